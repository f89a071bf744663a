"""/internal/v1: the asynchronous charge API (202, then the status endpoint and events)."""

from __future__ import annotations

import pytest

from chassis.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db

CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada"}


def charge_body(**overrides) -> dict:
    return {
        "order_number": "TS-1001",
        "user_id": 7,
        "amount": "120.00",
        "currency": "EUR",
        "card": CARD,
        **overrides,
    }


def test_a_charge_answers_202_and_the_outcome_arrives_at_the_status_endpoint(
    providers, internal_client, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = internal_client.post(
            "/internal/v1/payments", charge_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-TS-1001"
        )
    assert answer.status_code == 202
    body = answer.json()
    assert body["status"] == "pending"
    assert answer["Location"] == body["status_url"]
    status = internal_client.get(body["status_url"]).json()
    assert status["status"] == "captured"
    assert status["card_last4"] == "4242"
    assert "card_token" not in status
    assert "gateway_ref" not in status
    assert [e.type for e in OutboxEvent.objects.exclude(type="payment.synced").order_by("id")] == [
        "payment.authorized",
        "payment.captured",
    ]
    replay = internal_client.post(
        "/internal/v1/payments", charge_body(), format="json", HTTP_IDEMPOTENCY_KEY="order-TS-1001"
    )
    assert replay.status_code == 202
    assert replay.json()["id"] == body["id"]


def test_authorize_then_capture_or_cancel_through_the_api(
    providers, internal_client, eager_tasks, django_capture_on_commit_callbacks
):
    registered = internal_client.post("/internal/v1/cards", {**CARD, "gateway": "northpay"}, format="json")
    assert registered.status_code == 201
    assert registered.json()["last4"] == "4242"
    card_id = registered.json()["card_id"]
    ids = []
    for number in ("TS-2001", "TS-2002"):
        with django_capture_on_commit_callbacks(execute=True):
            answer = internal_client.post(
                "/internal/v1/payments",
                charge_body(
                    order_number=number, card=None, card_id=card_id, gateway="northpay", capture=False
                ),
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"order-{number}",
            )
        assert answer.status_code == 202, answer.json()
        ids.append(answer.json()["id"])
    assert all(
        internal_client.get(f"/internal/v1/payments/{i}").json()["status"] == "authorized" for i in ids
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert internal_client.post(f"/internal/v1/payments/{ids[0]}/capture").status_code == 202
        assert internal_client.post(f"/internal/v1/payments/{ids[1]}/cancel").status_code == 202
    assert internal_client.get(f"/internal/v1/payments/{ids[0]}").json()["status"] == "captured"
    assert internal_client.get(f"/internal/v1/payments/{ids[1]}").json()["status"] == "voided"
    refused = internal_client.post(f"/internal/v1/payments/{ids[1]}/capture")
    assert refused.status_code == 409
    assert refused.json()["code"] == "payment_not_capturable"


def test_a_cancel_of_a_captured_payment_refunds_it(
    providers, internal_client, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        payment_id = internal_client.post(
            "/internal/v1/payments",
            charge_body(order_number="TS-3001"),
            format="json",
            HTTP_IDEMPOTENCY_KEY="order-TS-3001",
        ).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        internal_client.post(f"/internal/v1/payments/{payment_id}/cancel")
    assert internal_client.get(f"/internal/v1/payments/{payment_id}").json()["status"] == "refunded"
    assert providers.charges("cardinal")[0]["amount_refunded"] == 12000


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (charge_body(card=None), "validation_error"),
        (charge_body(amount="-5"), "validation_error"),
        (charge_body(currency="euro"), "validation_error"),
        (charge_body(surprise=1), "validation_error"),
        (charge_body(card_id="card_nope", card=None), "card_not_found"),
        (charge_body(gateway="paypal"), "payment_gateway_unknown"),
        (charge_body(amount="0.00"), "payment_amount_invalid"),
        ([1, 2], "validation_error"),
    ],
)
def test_bad_charge_input_is_a_4xx(providers, internal_client, body, code):
    answer = internal_client.post(
        "/internal/v1/payments", body, format="json", HTTP_IDEMPOTENCY_KEY="order-bad-1"
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == code


def test_the_internal_api_needs_the_internal_token(api_client):
    assert api_client.post("/internal/v1/payments", charge_body(), format="json").status_code == 401
    assert api_client.get("/internal/v1/payments/1").status_code == 401


def test_a_void_by_key_before_its_charge_leaves_nothing_authorized(
    providers, internal_client, eager_tasks, django_capture_on_commit_callbacks
):
    """The saga gave up waiting for authorize and compensates: its void (by the authorization's key) arrives
    first, the charge after. The charge is recorded voided and never reaches the provider."""
    void = {"order_number": "TS-4001", "authorize_key": "TS-4001:authorize", "reason": "stock"}
    first = internal_client.post("/internal/v1/payments/voids", void, format="json")
    assert first.status_code == 200
    assert first.json() == {"results": []}
    with django_capture_on_commit_callbacks(execute=True):
        late = internal_client.post(
            "/internal/v1/payments",
            charge_body(order_number="TS-4001", capture=False, idempotency_key="TS-4001:authorize"),
            format="json",
        )
    assert late.status_code == 202
    assert late.json()["status"] == "voided"
    assert late.json()["failure_code"] == "voided_before_authorize"
    assert providers.charges("cardinal") == []
    with django_capture_on_commit_callbacks(execute=True):
        again = internal_client.post("/internal/v1/payments/voids", void, format="json")
    assert [p["status"] for p in again.json()["results"]] == ["voided"]
    assert providers.charges("cardinal") == []


def test_a_void_by_key_after_its_charge_voids_the_authorization(
    providers, internal_client, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        charged = internal_client.post(
            "/internal/v1/payments",
            charge_body(order_number="TS-4002", capture=False, idempotency_key="TS-4002:authorize"),
            format="json",
        )
    assert internal_client.get(charged.json()["status_url"]).json()["status"] == "authorized"
    other = {"order_number": "TS-4002", "authorize_key": "TS-4002:other-key", "reason": "x"}
    assert internal_client.post("/internal/v1/payments/voids", other, format="json").json() == {"results": []}
    with django_capture_on_commit_callbacks(execute=True):
        voided = internal_client.post(
            "/internal/v1/payments/voids",
            {"order_number": "TS-4002", "authorize_key": "TS-4002:authorize", "reason": "stock"},
            format="json",
        )
    assert [p["id"] for p in voided.json()["results"]] == [charged.json()["id"]]
    assert internal_client.get(charged.json()["status_url"]).json()["status"] == "voided"
    assert [c["status"] for c in providers.charges("cardinal")] == ["canceled"]


@pytest.mark.parametrize(
    "body",
    [
        {"order_number": "TS-4003"},
        {"order_number": "TS 4003", "authorize_key": "TS-4003:authorize"},
        {"order_number": "TS-4003", "authorize_key": "short"},
        {"order_number": "TS-4003", "authorize_key": "TS-4003:authorize", "surprise": 1},
    ],
)
def test_a_void_by_key_with_bad_input_is_a_400(internal_client, body):
    answer = internal_client.post("/internal/v1/payments/voids", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
