"""Push and SMS through the sandbox's providers (a real process), with signed delivery receipts back to this
service (a live server): sent -> delivered | bounced; a repeated send is one message at the provider."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from extracted.notification_service.models import Notification
from extracted.notification_service.services import delivery, intake

from .conftest import event, order_doc, user_doc, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
S = Notification.State
PHONE = "+5511988887777"


def known_user(user_id: int, email: str, phone: str = PHONE) -> None:
    doc = user_doc(user_id, email=email, phone=phone)
    intake.recipient_upsert(event("user.upserted", doc, source="auth_service"))


def refunded(user_id: int, number: str):
    data = {
        "payment_id": 9, "order_number": number, "user_id": user_id, "status": "refunded", "amount": "110.00",
        "amount_refunded": "110.00", "currency": "BRL", "gateway": "cardinal", "card_brand": "visa",
        "card_last4": "4242", "fraud_score": 0, "failure_code": "",
    }  # fmt: skip
    return event("payment.refunded", data, source="payment_service")


def state_of(row: Notification) -> str:
    row.refresh_from_db()
    return row.state


def test_an_order_confirmation_goes_by_email_and_push_and_push_is_delivered(messaging, mailbox, eager_tasks):
    known_user(91, "olga@example.com")
    rows = intake.notifications_from_event(
        event("order.confirmed", order_doc(91, number="TS-91", status="paid"))
    )
    push = next(r for r in rows if r.channel == "push")
    assert wait_for(lambda: state_of(push) == S.DELIVERED), state_of(push)
    [message] = messaging.messages("push", to="user:91")
    assert message["text"].startswith("Olá Ana, seu pedido TS-91")
    assert message["idempotency_key"] == str(push.id)
    assert len(mailbox.to("olga@example.com")) == 1


def test_a_refund_sms_is_sent_once_however_often_the_event_comes(messaging, mailbox, eager_tasks):
    known_user(92, "paulo@example.com")
    envelope = refunded(92, "TS-92")
    intake.notifications_from_event(envelope)
    intake.notifications_from_event(envelope)
    sms = Notification.objects.get(event_id=envelope.id, channel="sms")
    assert wait_for(lambda: state_of(sms) == S.DELIVERED), state_of(sms)
    assert [m["to"] for m in messaging.messages("sms", to=PHONE)] == [PHONE]


def test_a_send_repeated_after_a_crash_is_one_message_at_the_provider(messaging, mailbox):
    known_user(93, "quin@example.com")
    rows = intake.notifications_from_event(refunded(93, "TS-93"))  # not eager: stays queued
    sms = next(r for r in rows if r.channel == "sms")
    assert delivery.notification_send(str(sms.id)).state == "sent"
    # The worker "died" after the provider accepted it and before its commit: the row is still sending,
    # its lease over; the sweep hands it out again.
    stale = timezone.now() - timedelta(hours=1)
    Notification.objects.filter(pk=sms.id).update(state=S.SENDING, claimed_at=stale, provider_ref="")
    assert str(sms.id) in delivery.notifications_due()
    assert delivery.notification_send(str(sms.id)).state == "sent"
    assert len(messaging.messages("sms", to=PHONE)) == 1


def test_a_provider_outage_is_retried_until_it_answers(messaging, mailbox):
    known_user(94, "rui@example.com")
    rows = intake.notifications_from_event(refunded(94, "TS-94"))
    sms = next(r for r in rows if r.channel == "sms")
    messaging.set_knobs("sms", error_rate=1.0)
    assert delivery.notification_send(str(sms.id)).state == "retry"
    assert state_of(sms) == S.QUEUED
    messaging.set_knobs("sms", error_rate=0.0)
    assert delivery.notification_send(str(sms.id)).state == "sent"
    assert Notification.objects.get(pk=sms.id).attempts == 2


def test_an_undeliverable_number_bounces_by_receipt(messaging, mailbox, eager_tasks):
    messaging.set_knobs("sms", undeliverable=["+5511900000000"])
    known_user(95, "sara@example.com", phone="+5511900000000")
    rows = intake.notifications_from_event(refunded(95, "TS-95"))
    sms = next(r for r in rows if r.channel == "sms")
    assert wait_for(lambda: state_of(sms) == S.BOUNCED), state_of(sms)


def test_a_receipt_with_a_bad_signature_is_refused(live_server, api_client):
    body = json.dumps({"idempotency_key": "00000000-0000-4000-8000-000000000000", "status": "delivered"})
    answer = api_client.post(
        "/api/v2/notifications/receipts/sms", body, content_type="application/json",
        HTTP_X_SANDBOX_SIGNATURE="t=1,v1=00",
    )  # fmt: skip
    assert answer.status_code == 401
    assert answer.json()["code"] == "webhook_signature_invalid"


@pytest.fixture
def gateway(live_server, tmp_path):
    """The real gateway on the shipped routes.yaml, its `notifications` upstream this live server (what
    deploy/ wires: the providers' receipts come in through the edge)."""
    from strangler_proxy.launch import DEFAULT_ROUTES
    from tests.strangler_proxy.conftest import start_gateway, write_flags_file

    flags = {"FLAGS_FILE": str(write_flags_file(tmp_path / "flags.json")),
             "FLAGS_AUDIT_LOG": str(tmp_path / "flags-audit.log")}  # fmt: skip
    process = start_gateway(
        log_path=tmp_path / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        env={**flags, "NOTIFICATION_SERVICE_URL": live_server.url},
    )
    yield process
    process.stop()


def test_a_push_receipt_that_comes_in_through_the_gateway_marks_the_push_delivered(
    messaging, gateway, mailbox, eager_tasks
):
    messaging.reset(webhook_url=f"{gateway.url}/api/v2/notifications/receipts/{{provider}}")
    known_user(93, "ines@example.com")
    rows = intake.notifications_from_event(
        event("order.confirmed", order_doc(93, number="TS-93", status="paid"))
    )
    push = next(r for r in rows if r.channel == "push")
    assert wait_for(lambda: state_of(push) == S.DELIVERED), (state_of(push), gateway.log()[-2000:])
    audit_log = gateway.log_path.with_suffix(".audit.jsonl")

    def receipts_audited() -> list[dict]:
        audit = [json.loads(line) for line in audit_log.read_text().splitlines()]
        return [e for e in audit if e.get("path") == "/api/v2/notifications/receipts/push"]

    receipts = wait_for(receipts_audited)  # the audit line is written after the answer
    assert receipts, audit_log.read_text()
    assert {(e["method"], e["route"], e["upstream"], e["status"]) for e in receipts} == {
        ("POST", "v2.notifications", "notifications", 200)
    }
