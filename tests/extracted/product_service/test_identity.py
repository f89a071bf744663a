"""Staff answers only for a valid signed gateway identity (X-Strangler-Identity) with a staff role, and only
when the service holds INTERNAL_IDENTITY_KEY; everyone else gets the anonymous/customer answers."""

from __future__ import annotations

import pytest

from contracts.identity import sign_identity

pytestmark = pytest.mark.django_db

KEY = "k" * 40
PRODUCTS = "/api/v1/catalog/products"


def identity(*roles: str, method: str = "GET", path: str = PRODUCTS, key: str = KEY) -> dict:
    value = sign_identity(key=key, user_id=7, roles=roles, scope=(), jti="j1", method=method, path=path)
    return {"HTTP_X_STRANGLER_IDENTITY": value}


@pytest.fixture
def trusted(settings):
    settings.INTERNAL_IDENTITY_KEY = KEY


def test_a_signed_staff_identity_sees_inactive_products(api_client, seeded, trusted):
    body = api_client.get(
        PRODUCTS, {"include_inactive": "true", "page_size": 100}, **identity("staff")
    ).json()
    assert body["count"] == 30
    detail = api_client.get(f"{PRODUCTS}/11", **identity("admin", path=f"{PRODUCTS}/11"))
    assert detail.status_code == 200
    assert detail.json()["is_active"] is False


def test_a_signed_customer_identity_gets_the_customer_answers(api_client, seeded, trusted):
    answer = api_client.get(PRODUCTS, {"include_inactive": "true"}, **identity("customer"))
    assert answer.status_code == 403
    assert api_client.get(f"{PRODUCTS}/11", **identity("customer", path=f"{PRODUCTS}/11")).status_code == 404


@pytest.mark.parametrize(
    "header",
    [
        identity("staff", key="x" * 40),  # another key
        identity("staff", path=f"{PRODUCTS}/1"),  # signed for another path
        identity("staff", method="POST"),  # signed for another method
        {"HTTP_X_STRANGLER_IDENTITY": "v1.forged.value"},
    ],
)
def test_an_invalid_identity_is_invalid_identity_as_in_the_monolith(api_client, seeded, trusted, header):
    answer = api_client.get(PRODUCTS, **header)
    assert answer.status_code == 401
    assert answer.json() == {
        "code": "invalid_identity",
        "message": "The internal identity header is not valid",
        "extra": {},
    }
    assert answer["WWW-Authenticate"] == 'Token realm="api"'


def test_without_the_key_the_identity_header_is_ignored(api_client, seeded, settings):
    settings.INTERNAL_IDENTITY_KEY = ""
    answer = api_client.get(PRODUCTS, {"include_inactive": "true"}, **identity("staff"))
    assert answer.status_code == 403


def test_internal_endpoints_ignore_the_gateway_identity(internal_client, seeded, trusted):
    answer = internal_client.get(
        "/internal/v1/sync/status", **identity("staff", path="/internal/v1/sync/status")
    )
    assert answer.status_code == 200
