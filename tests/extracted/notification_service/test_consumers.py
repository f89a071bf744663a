"""The events consumer on a real RabbitMQ: an event published twice is one email; the directory follows
`user.upserted`; an order for a user no address is known of is retried, then dead-lettered, and a replay
once the address is known sends it."""

from __future__ import annotations

import pytest
from kombu import Connection

from chassis.dlq import DeadLetterConsole
from extracted.notification_service import consumers
from extracted.notification_service.models import Notification

from .conftest import BOUNCING_DOMAIN, consumer_named, event, order_doc, run_consumer, user_doc

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def events_consumer(rabbit):
    return consumer_named(rabbit, consumers.NotificationEventsConsumer, f"{rabbit.prefix}.events")


def test_a_published_event_delivered_twice_is_one_email(rabbit, events_consumer, mailbox, eager_tasks):
    user = event("user.upserted", user_doc(71, email="ines@example.com"), source="auth_service")
    failed = event("order.failed", order_doc(71, number="TS-71"))
    stats = run_consumer(rabbit, events_consumer, user, failed, failed)
    assert (stats.processed, stats.duplicate) == (2, 1)
    assert len(mailbox.to("ines@example.com")) == 1
    assert Notification.objects.get(event_id=failed.id).state == Notification.State.SENT


def test_an_unknown_recipient_is_dead_lettered_and_a_replay_sends_once(
    rabbit, events_consumer, mailbox, eager_tasks
):
    failed = event("order.failed", order_doc(72, number="TS-72"))
    stats = run_consumer(rabbit, events_consumer, failed)
    assert stats.dead_lettered == 1
    assert Notification.objects.count() == 0
    user = event("user.upserted", user_doc(72, email="joao@example.com"), source="auth_service")
    run_consumer(rabbit, events_consumer, user)
    with Connection(rabbit.url) as conn:
        DeadLetterConsole(conn, [events_consumer.name]).replay(consumer=events_consumer.name, all_=True)
    stats = run_consumer(rabbit, events_consumer)
    assert stats.processed == 1
    assert len(mailbox.to("joao@example.com")) == 1


def test_events_without_a_message_are_ignored(rabbit, events_consumer, mailbox, eager_tasks):
    stats = run_consumer(
        rabbit, events_consumer, event("order.created", order_doc(73, status="pending_payment"))
    )
    assert stats.ignored == 1
    assert Notification.objects.count() == 0


def welcome(user_id: int, email: str):
    data = {"user_id": user_id, "email": email, "first_name": "Ana", "locale": "en"}
    return event("account.registered", data, source="monolith")


def test_a_batch_of_events_goes_to_smtp_over_fewer_connections_than_messages(
    rabbit, events_consumer, mailbox, eager_tasks
):
    welcomes = [welcome(80 + n, f"batch{n}@example.com") for n in range(6)]
    stats = run_consumer(rabbit, events_consumer, *welcomes)
    assert stats.processed == 6
    assert sorted(m["To"] for m in mailbox.messages) == sorted(f"batch{n}@example.com" for n in range(6))
    assert len(set(mailbox.peers)) < 6  # one SMTP connection per delivery batch, not one per message
    assert set(Notification.objects.values_list("state", flat=True)) == {Notification.State.SENT}


def test_an_address_refused_in_a_batch_bounces_alone_and_the_others_are_sent_once(
    rabbit, events_consumer, mailbox, eager_tasks
):
    welcomes = [
        welcome(90, "first@example.com"),
        welcome(91, f"x{BOUNCING_DOMAIN}"),
        welcome(92, "last@example.com"),
    ]
    run_consumer(rabbit, events_consumer, *welcomes)
    states = dict(Notification.objects.values_list("address", "state"))
    assert states == {
        "first@example.com": Notification.State.SENT,
        f"x{BOUNCING_DOMAIN}": Notification.State.BOUNCED,
        "last@example.com": Notification.State.SENT,
    }
    assert sorted(m["To"] for m in mailbox.messages) == ["first@example.com", "last@example.com"]
