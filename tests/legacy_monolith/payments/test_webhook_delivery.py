"""The sandbox delivering real, signed webhooks to the monolith over HTTP (pytest-django's live_server)."""

import json

import pytest

from legacy_monolith.payments.models import Refund, WebhookEvent
from legacy_monolith.payments.services import payment_refund

from .conftest import APPROVED

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_northpay_refund_is_confirmed_by_the_delivered_webhook_and_a_redelivery_is_a_no_op(
    monolith_url, sandbox, charge
):
    sandbox.point_webhooks_at(monolith_url)
    payment = charge(APPROVED, gateway="northpay")
    refund = payment_refund(
        payment=payment, amount=None, reason="", actor=None, idempotency_key="live-refund"
    )
    assert refund.status == Refund.Status.PENDING

    delivered = sandbox.wait_for_delivery("northpay", "refund.succeeded")
    assert json.loads(delivered["response_body"]) == {"status": "processed"}
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED

    replayed = sandbox.replay_event("northpay", delivered["event_id"])
    assert replayed["response_status"] == 200
    assert json.loads(replayed["response_body"]) == {"status": "duplicate"}
    assert WebhookEvent.objects.filter(gateway="northpay", event_id=delivered["event_id"]).count() == 1


def test_a_webhook_signed_with_the_wrong_secret_is_refused_and_retried(monolith_url, sandbox, charge):
    sandbox.point_webhooks_at(
        monolith_url,
        webhook_secret="not-the-monolith-secret",
        webhook_max_attempts=2,
        webhook_retry_delay_ms=10,
    )
    charge(APPROVED)
    refused = sandbox.wait_for_delivery("cardinal", "charge.captured", status=401)
    assert json.loads(refused["response_body"])["code"] == "webhook_signature_invalid"
    second = sandbox.wait_for_delivery("cardinal", "charge.captured", status=401, attempt=2)
    assert second["event_id"] == refused["event_id"]
    assert not WebhookEvent.objects.exists()
