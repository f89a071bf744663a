"""A notification whose retries are spent goes to the dead-letter queue of the `deliveries` consumer, where
the chassis' console (`events dlq list|show|replay|purge`) handles it like any other dead letter.

The dead letter is an envelope `notification.redeliver {notification_id}` with a fresh id; replaying it
puts it on `notification_service.deliveries`, whose handler queues the notification again (only if it is
still `failed`: a replay run twice sends nothing twice).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from kombu import Producer, Queue

from chassis.broker import broker_connection
from chassis.consumers import ATTEMPTS_HEADER, FIRST_FAILED_HEADER, LAST_FAILED_HEADER
from contracts.events import Envelope

DELIVERIES_CONSUMER = "notification_service.deliveries"
REDELIVER = "notification.redeliver"


def dead_letter(notification_id: str, *, error: str, attempts: int, trace_id: str = "") -> Envelope:
    envelope = Envelope.new(
        REDELIVER,
        {"notification_id": notification_id},
        source=settings.EVENT_SOURCE,
        trace_id=trace_id or None,
    )
    now = datetime.now(UTC).isoformat()
    queue = Queue(f"{DELIVERIES_CONSUMER}.dlq", durable=True)
    with broker_connection() as connection:
        channel = connection.channel()
        queue(channel).declare()
        # The consumer's own queue too: a replay from the console must find it even before the first
        # `consume notification_service.deliveries` ran (its bindings are added by the consumer).
        Queue(DELIVERIES_CONSUMER, durable=True)(channel).declare()
        Producer(channel).publish(
            envelope.to_json(),
            exchange="",
            routing_key=queue.name,
            headers={
                ATTEMPTS_HEADER: attempts,
                "x-error": error[:1000],
                "x-original-routing-key": REDELIVER,
                FIRST_FAILED_HEADER: now,
                LAST_FAILED_HEADER: now,
            },
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
        )
    return envelope
