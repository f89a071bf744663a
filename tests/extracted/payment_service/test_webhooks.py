"""Provider webhooks: HMAC and the replay window, once per event id, out of order, refunds settling."""

from __future__ import annotations

import json
import time

import pytest

from extracted.payment_service.errors import ApplicationError
from extracted.payment_service.models import Payment, Refund, WebhookEvent
from extracted.payment_service.providers import provider
from extracted.payment_service.services.charges import payment_advance, payment_create
from extracted.payment_service.services.refunds import payment_refund
from extracted.payment_service.services.webhooks import webhook_process
from sandbox.signing import signature

from .conftest import charge_request

pytestmark = pytest.mark.django_db


def _deliver(settings, gateway: str, event: dict, *, at: int | None = None, secret: str | None = None) -> str:
    body = json.dumps(event).encode()
    header = signature(
        secret or settings.PAYMENT_WEBHOOK_SECRET, body, int(time.time()) if at is None else at
    )
    return webhook_process(gateway=gateway, body=body, signature=header)


def _envelope(event: dict, gateway: str) -> dict:
    return {
        "id": event["id"],
        "type": event["type"],
        "created": event["created"],
        "gateway": gateway,
        "data": event["data"],
    }


def test_captured_before_authorized_is_kept_then_applied_once(providers, settings):
    payment, _ = payment_create(charge_request())
    # The provider authorizes and captures under the payment's own keys; its answers have not reached us.
    client = provider("cardinal")
    charge = client.authorize(
        token=payment.card_token,
        amount=payment.amount,
        currency="EUR",
        reference=payment.order_number,
        idempotency_key=f"{payment.idempotency_key}:authorize",
    )
    client.capture(
        charge_ref=charge.ref,
        amount=payment.amount,
        currency="EUR",
        idempotency_key=f"{payment.idempotency_key}:capture",
    )
    captured = providers.wait_for_event("cardinal", "charge.captured")
    assert _deliver(settings, "cardinal", captured) == "deferred"
    assert _deliver(settings, "cardinal", captured) == "duplicate"
    assert (
        payment_advance(payment.pk) == Payment.Status.CAPTURED
    )  # the authorize answer replays, then the event applies
    stored = WebhookEvent.objects.get(event_id=captured["id"])
    assert stored.state == WebhookEvent.State.PROCESSED
    assert len(providers.charges("cardinal")) == 1
    assert providers.charges("cardinal")[0]["amount_captured"] == 4990


def test_a_late_authorized_answer_never_undoes_a_capture(providers, settings):
    from extracted.payment_service.services.state import payment_transition

    payment, _ = payment_create(charge_request())
    payment_advance(payment.pk)
    moved = payment_transition(payment.pk, Payment.Status.AUTHORIZED)[1]
    assert not moved
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.CAPTURED


def test_signatures_outside_the_window_or_wrong_are_refused(providers, settings):
    event = {
        "id": "evt_1",
        "type": "charge.captured",
        "created": 1,
        "data": {"object": "charge", "id": "ch_x"},
    }
    with pytest.raises(ApplicationError) as stale:
        _deliver(
            settings, "cardinal", event, at=int(time.time()) - settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS - 5
        )
    assert stale.value.extra["reason"] == "stale"
    assert stale.value.status_code == 401
    with pytest.raises(ApplicationError) as wrong:
        _deliver(settings, "cardinal", event, secret="not-the-secret")
    assert wrong.value.extra["reason"] == "mismatch"
    assert not WebhookEvent.objects.exists()


def test_a_northpay_refund_settles_by_webhook(providers, settings):
    payment, _ = payment_create(charge_request(gateway="northpay"))
    payment_advance(payment.pk)
    outcome = payment_refund(
        payment_id=payment.pk, amount=None, reason="test", idempotency_key="refund-key-1"
    )
    assert outcome.refund.status == Refund.Status.PENDING
    settled = providers.wait_for_event("northpay", "refund.succeeded")
    assert _deliver(settings, "northpay", _envelope(settled, "northpay")) == "processed"
    outcome.refund.refresh_from_db()
    assert outcome.refund.status == Refund.Status.SUCCEEDED
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REFUNDED


def test_webhooks_over_http_answer_in_the_monolith_shape(providers, settings, api_client):
    body = json.dumps(
        {"id": "evt_9", "type": "charge.captured", "data": {"object": "charge", "id": "ch_unknown"}}
    ).encode()
    header = signature(settings.PAYMENT_WEBHOOK_SECRET, body, int(time.time()))
    url = "/api/v1/payments/webhooks/cardinal"
    first = api_client.post(url, body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=header)
    again = api_client.post(url, body, content_type="application/json", HTTP_X_SANDBOX_SIGNATURE=header)
    assert (first.status_code, first.json()) == (200, {"status": "processed"})
    assert again.json() == {"status": "duplicate"}
    unsigned = api_client.post(url, body, content_type="application/json")
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "webhook_signature_invalid"
    assert (
        api_client.post("/api/v1/payments/webhooks/nope", body, content_type="application/json").status_code
        == 404
    )
    garbled = b"{not json"
    bad = api_client.post(
        url,
        garbled,
        content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE=signature(settings.PAYMENT_WEBHOOK_SECRET, garbled, int(time.time())),
    )
    assert bad.status_code == 400
