"""/api/v1/payments over HTTP: who sees what, staff refunds with the ABAC limit, bad input is a 4xx."""

from __future__ import annotations

import pytest

from contracts.payment import V1_PAYMENT_FIELDS
from extracted.payment_service.services.charges import payment_advance, payment_create

from .conftest import charge_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured(providers):
    payment, _ = payment_create(charge_request(user_id=7))
    payment_advance(payment.pk)
    payment.refresh_from_db()
    return payment


def test_a_customer_sees_only_their_payments_in_the_monolith_shape(captured, api_client, as_user):
    mine = api_client.get("/api/v1/payments", **as_user(7, "customer", "GET", "/api/v1/payments"))
    assert mine.status_code == 200
    body = mine.json()
    assert body["count"] == 1
    assert body["next"] is None
    document = body["results"][0]
    assert tuple(document) == V1_PAYMENT_FIELDS
    assert document["amount"] == "49.90"
    assert document["status"] == "captured"
    assert document["refunds"] == []
    others = api_client.get("/api/v1/payments", **as_user(8, "customer", "GET", "/api/v1/payments"))
    assert others.json()["count"] == 0
    path = f"/api/v1/payments/{captured.pk}"
    assert api_client.get(path, **as_user(8, "customer", "GET", path)).json()["code"] == "payment_not_found"
    assert api_client.get(path, **as_user(1, "staff", "GET", path)).status_code == 200


def test_no_credential_is_401_and_a_forged_identity_is_refused(captured, api_client, as_user):
    anonymous = api_client.get("/api/v1/payments")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Token"
    replayed = api_client.get(
        "/api/v1/payments?page=1", **as_user(7, "customer", "GET", "/api/v1/payments/1")
    )
    assert replayed.status_code == 401
    assert replayed.json()["code"] == "invalid_identity"


def test_staff_refund_partially_then_the_rest_with_idempotent_replays(captured, api_client, as_user):
    path = f"/api/v1/payments/{captured.pk}/refunds"
    staff = as_user(2, "staff", "POST", path)
    first = api_client.post(
        path,
        {"amount": "10.00", "reason": "damaged"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-0001",
        **staff,
    )
    assert first.status_code == 201
    assert first.json()["amount"] == "10.00"
    replay = api_client.post(
        path,
        {"amount": "10.00", "reason": "damaged"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-0001",
        **as_user(2, "staff", "POST", path),
    )
    assert replay.status_code == 200
    assert replay.json()["id"] == first.json()["id"]
    too_much = api_client.post(
        path,
        {"amount": "45.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-0002",
        **as_user(2, "staff", "POST", path),
    )
    assert too_much.status_code == 400
    assert too_much.json()["code"] == "refund_exceeds_payment"
    rest = api_client.post(
        path, {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-0003", **as_user(2, "staff", "POST", path)
    )
    assert rest.status_code == 201
    assert rest.json()["amount"] == "39.90"
    detail = api_client.get(
        f"/api/v1/payments/{captured.pk}", **as_user(2, "staff", "GET", f"/api/v1/payments/{captured.pk}")
    )
    assert detail.json()["status"] == "refunded"
    assert detail.json()["amount_refunded"] == "49.90"


def test_the_staff_refund_limit_is_the_abac_policy(captured, api_client, as_user, settings):
    settings.PAYMENT_STAFF_REFUND_LIMIT = "20.00"
    path = f"/api/v1/payments/{captured.pk}/refunds"
    denied = api_client.post(
        path,
        {"amount": "30.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-1001",
        **as_user(2, "staff", "POST", path),
    )
    assert denied.status_code == 403
    assert denied.json()["code"] == "policy_denied"
    admin = api_client.post(
        path,
        {"amount": "30.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-1002",
        **as_user(3, "admin", "POST", path),
    )
    assert admin.status_code == 201
    customer = api_client.post(
        path, {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-1003", **as_user(7, "customer", "POST", path)
    )
    assert customer.status_code == 403
    assert customer.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ("page=0", "validation_error", 400),
        ("page=9", "page_not_found", 404),
        ("page_size=101", "validation_error", 400),
        ("order=" + "x" * 21, "validation_error", 400),
    ],
)
def test_bad_listing_input_is_a_4xx(captured, api_client, as_user, query, code, status):
    answer = api_client.get(f"/api/v1/payments?{query}", **as_user(7, "customer", "GET", "/api/v1/payments"))
    assert (answer.status_code, answer.json()["code"]) == (status, code)


@pytest.mark.parametrize(
    ("body", "key", "code"),
    [
        ({"amount": "-1"}, "refund-2001", "validation_error"),
        ({"amount": "abc"}, "refund-2002", "validation_error"),
        ({}, "", "idempotency_key_required"),
        ({}, "bad key!", "idempotency_key_invalid"),
    ],
)
def test_bad_refund_input_is_a_4xx(captured, api_client, as_user, body, key, code):
    path = f"/api/v1/payments/{captured.pk}/refunds"
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    answer = api_client.post(path, body, format="json", **headers, **as_user(2, "staff", "POST", path))
    assert answer.status_code == 400
    assert answer.json()["code"] == code
