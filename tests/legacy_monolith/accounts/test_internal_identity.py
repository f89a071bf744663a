"""The monolith trusts the gateway's signed X-Strangler-Identity (JWT users) and nothing else of the kind:
a good value authenticates its user; a bad, expired, replayed-elsewhere value, or one for an unknown or
inactive user, is 401 `invalid_identity`, never a silent anonymous request."""

import os
import time
import uuid

import pytest
import redis
from django.conf import settings
from rest_framework.test import APIClient

from contracts.identity import sign_identity
from kernel.replay import RedisReplayGuard

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


def bound(user_id, *, method, path=ME, query="", body=b""):
    """A value bound as the gateway binds them: method, path, query and body."""
    return sign_identity(
        key=settings.INTERNAL_IDENTITY_KEY,
        user_id=user_id,
        roles=["customer"],
        scope=["read"],
        jti="jti-1",
        method=method,
        path=path,
        query=query,
        body=body,
    )


@pytest.mark.django_db
def test_a_captured_identity_is_refused_the_second_time(customer):
    value = identity(customer.pk)
    assert get_me(value).status_code == 200
    replay = get_me(value)
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_identity"


@pytest.mark.django_db
def test_an_identity_bound_to_a_query_is_refused_with_another(customer):
    value = bound(customer.pk, method="GET", query="fields=id")
    answer = APIClient().get(ME + "?fields=username", HTTP_X_STRANGLER_IDENTITY=value)
    assert answer.status_code == 401
    assert APIClient().get(ME + "?fields=id", HTTP_X_STRANGLER_IDENTITY=value).status_code == 200


@pytest.mark.django_db
def test_a_captured_profile_change_cannot_carry_another_body(customer):
    sent = b'{"first_name": "Ada"}'
    value = bound(customer.pk, method="PATCH", body=sent)
    other = APIClient().patch(
        ME, b'{"first_name": "Mallory"}', content_type="application/json", HTTP_X_STRANGLER_IDENTITY=value
    )
    assert other.status_code == 401
    customer.refresh_from_db()
    assert customer.first_name != "Mallory"
    good = APIClient().patch(ME, sent, content_type="application/json", HTTP_X_STRANGLER_IDENTITY=value)
    assert good.status_code == 200, good.json()


def test_every_verifier_shares_one_replay_guard_in_redis():
    """Two verifiers (two processes' clients of the same Redis) see a value's id once between them."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    first = RedisReplayGuard(redis.Redis.from_url(url))
    second = RedisReplayGuard(redis.Redis.from_url(url))
    nid = uuid.uuid4().hex
    expires = int(time.time()) + 30
    assert first.first_use(nid, expires)
    assert not second.first_use(nid, expires)
    assert not first.first_use(nid, expires)
