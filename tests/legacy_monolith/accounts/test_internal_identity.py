"""The monolith trusts the gateway's signed X-Strangler-Identity (JWT users) and nothing else of the kind:
a good value authenticates its user; a bad, expired, replayed-elsewhere value, or one for an unknown or
inactive user, is 401 `invalid_identity`, never a silent anonymous request."""

import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from contracts.identity import sign_identity

ME = "/api/v1/accounts/me"


def identity(user_id, *, method="GET", path=ME, key=None, now=None):
    return sign_identity(
        key=key or settings.INTERNAL_IDENTITY_KEY,
        user_id=user_id,
        roles=["customer"],
        scope=["read"],
        jti="jti-1",
        method=method,
        path=path,
        now=now,
    )


def get_me(value):
    return APIClient().get(ME, HTTP_X_STRANGLER_IDENTITY=value)


@pytest.mark.django_db
def test_a_signed_identity_authenticates_its_user(customer):
    response = get_me(identity(customer.pk))

    assert response.status_code == 200
    assert response.json()["id"] == customer.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case",
    ["another path", "another method", "another key", "expired", "tampered", "garbage", "unknown user"],
)
def test_a_bad_identity_is_a_401_invalid_identity(customer, case):
    values = {
        "another path": lambda: identity(customer.pk, path="/api/v1/orders"),
        "another method": lambda: identity(customer.pk, method="POST"),
        "another key": lambda: identity(customer.pk, key="z" * 40),
        "expired": lambda: identity(customer.pk, now=time.time() - 120),
        "tampered": lambda: (
            identity(customer.pk + 1).split(".")[0]
            + "."
            + identity(customer.pk + 1).split(".")[1]
            + "."
            + identity(customer.pk).split(".")[2]
        ),
        "garbage": lambda: "v1.not.base64!",
        "unknown user": lambda: identity(customer.pk + 10_000),
    }

    response = get_me(values[case]())

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_identity"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.django_db
def test_an_inactive_users_identity_is_refused(customer):
    customer.is_active = False
    customer.save(update_fields=["is_active"])

    assert get_me(identity(customer.pk)).json()["code"] == "invalid_identity"


@pytest.mark.django_db
def test_a_request_without_the_header_is_unchanged_for_anonymous_clients():
    response = APIClient().get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"
