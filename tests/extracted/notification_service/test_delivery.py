"""From events to email on a real SMTP server (aiosmtpd): one message per event, channel and address however
often the event arrives; opt-outs, rate limits, bounces; retries, then failed and dead-lettered."""

from __future__ import annotations

import pytest
from kombu import Connection

from chassis.dlq import DeadLetterConsole
from contracts.notifications import ACCOUNT_PASSWORD_RESET_REQUESTED, ACCOUNT_REGISTERED
from extracted.notification_service import consumers
from extracted.notification_service.channels.email import message_id
from extracted.notification_service.models import Notification, Preference, Recipient
from extracted.notification_service.services import delivery, intake

from .conftest import BOUNCING_DOMAIN, consumer_named, event, order_doc, run_consumer, user_doc

pytestmark = pytest.mark.django_db(transaction=True)
S = Notification.State


def known_user(user_id: int, email: str) -> None:
    intake.recipient_upsert(event("user.upserted", user_doc(user_id, email=email), source="auth_service"))


def welcome(user_id: int, email: str, **extra):
    data = {"user_id": user_id, "email": email, "first_name": "Ana", "locale": "en", **extra}
    return event(ACCOUNT_REGISTERED, data, source="monolith")


def test_an_event_handled_twice_sends_one_email(mailbox, eager_tasks):
    envelope = welcome(11, "ana@example.com")
    intake.notifications_from_event(envelope)
    intake.notifications_from_event(envelope)  # a redelivery whose first run committed
    [row] = Notification.objects.filter(event_id=envelope.id)
    assert row.state == S.SENT
    assert row.attempts == 1
    [mail] = mailbox.to("ana@example.com")
    assert mail["Subject"] == "Welcome to TechStore"
    assert mail["Message-ID"].strip() == message_id(str(row.id))
    assert mail.get_body(("html",)).get_content().count("Welcome to TechStore, Ana!") == 1


def test_a_sent_notification_is_never_claimed_again(mailbox, eager_tasks):
    envelope = welcome(12, "bia@example.com")
    [row] = intake.notifications_from_event(envelope)
    assert delivery.notification_claim(str(row.id)) is None
    assert delivery.notification_send(str(row.id)).state == "skipped"
    assert len(mailbox.to("bia@example.com")) == 1


def test_only_one_of_two_workers_claims_a_queued_notification(mailbox):
    [row] = intake.notifications_from_event(welcome(13, "caio@example.com"))  # not eager: stays queued
    first = delivery.notification_claim(str(row.id))
    second = delivery.notification_claim(str(row.id))
    assert first is not None
    assert first.state == S.SENDING
    assert second is None


def test_a_batch_claim_takes_only_the_rows_no_other_worker_holds(mailbox):
    rows = [intake.notifications_from_event(welcome(14 + n, f"lia{n}@example.com"))[0] for n in range(3)]
    assert delivery.notification_claim(str(rows[1].id)) is not None  # another worker has this one
    ids = [str(row.id) for row in rows]
    claimed = delivery.notifications_claim(ids)
    assert [row.id for row in claimed] == [rows[0].id, rows[2].id]
    assert all((row.state, row.attempts) == (S.SENDING, 1) for row in claimed)
    assert delivery.notifications_claim(ids) == []


def test_order_events_use_the_directory_and_the_users_locale(mailbox, eager_tasks):
    known_user(21, "dora@example.com")
    intake.notifications_from_event(event("order.failed", order_doc(21, number="TS-21")))
    [mail] = mailbox.to("dora@example.com")
    assert mail["Subject"] == "Não conseguimos concluir o pedido TS-21"  # the default locale, pt-BR
    assert "Mouse" not in mail["Subject"]


def test_an_older_user_document_does_not_overwrite_a_newer_one(db):
    known = event("user.upserted", user_doc(22, email="new@example.com", version=5), source="auth_service")
    old = event("user.upserted", user_doc(22, email="old@example.com", version=4), source="auth_service")
    assert intake.recipient_upsert(known) is True
    assert intake.recipient_upsert(old) is False
    assert Recipient.objects.get(pk=22).email == "new@example.com"


def test_an_opt_out_suppresses_order_email_but_not_a_password_reset(mailbox, eager_tasks):
    known_user(31, "eva@example.com")
    Preference.objects.create(user_id=31, channel="*", category="*")
    intake.notifications_from_event(event("order.failed", order_doc(31, number="TS-31")))
    reset = {
        "user_id": 31, "email": "eva@example.com", "first_name": "Eva", "locale": "en",
        "reset_url": "https://techstore.example/reset?t=1",
    }  # fmt: skip
    intake.notifications_from_event(event(ACCOUNT_PASSWORD_RESET_REQUESTED, reset, source="monolith"))
    states = dict(Notification.objects.filter(user_id=31).values_list("event_type", "state"))
    assert states == {"order.failed": S.SUPPRESSED, ACCOUNT_PASSWORD_RESET_REQUESTED: S.SENT}
    [mail] = mailbox.to("eva@example.com")
    assert mail["Subject"] == "Reset your TechStore password"


def test_a_flood_is_cut_by_the_per_user_rate_limit(mailbox, eager_tasks, settings):
    settings.NOTIFICATION_RATE_LIMIT = 2
    for n in range(4):
        intake.notifications_from_event(welcome(41, "flo@example.com", first_name=f"n{n}"))
    states = sorted(Notification.objects.filter(user_id=41).values_list("state", flat=True))
    assert states == [S.SENT, S.SENT, S.SUPPRESSED, S.SUPPRESSED]
    assert len(mailbox.to("flo@example.com")) == 2
    assert set(Notification.objects.filter(state=S.SUPPRESSED).values_list("reason", flat=True)) == {
        "rate_limited"
    }


def test_an_address_the_server_refuses_is_bounced_not_retried(mailbox, eager_tasks, deliveries_dlq, rabbit):
    [row] = intake.notifications_from_event(welcome(51, f"gil{BOUNCING_DOMAIN}"))
    row.refresh_from_db()
    assert (row.state, row.attempts) == (S.BOUNCED, 1)
    with Connection(rabbit.url) as conn:
        assert DeadLetterConsole(conn, [deliveries_dlq]).list().letters == []


def test_smtp_down_retries_then_fails_into_the_dlq_and_a_replay_sends_it_once(
    mailbox, eager_tasks, deliveries_dlq, rabbit, settings
):
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there: every attempt fails
    [row] = intake.notifications_from_event(welcome(61, "hugo@example.com"))
    row.refresh_from_db()
    assert (row.state, row.attempts) == (S.FAILED, settings.NOTIFICATION_MAX_RETRIES + 1)
    assert mailbox.to("hugo@example.com") == []
    with Connection(rabbit.url) as conn:
        [letter] = DeadLetterConsole(conn, [deliveries_dlq]).list().letters
        assert letter.event_type == "notification.redeliver"
        assert "SMTP unavailable" in letter.error
        settings.EMAIL_PORT = real_port
        DeadLetterConsole(conn, [deliveries_dlq]).replay(consumer=deliveries_dlq, all_=True)
    deliveries = consumer_named(rabbit, consumers.DeliveriesConsumer, deliveries_dlq)
    stats = run_consumer(rabbit, deliveries)
    assert stats.processed == 1
    row.refresh_from_db()
    assert row.state == S.SENT
    assert len(mailbox.to("hugo@example.com")) == 1
