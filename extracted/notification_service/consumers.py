"""The Notification service's consumers (chassis: idempotent per event id, retried with backoff, DLQ):

- `notification_service.events`: `order.*`, `payment.*`, `account.*` -> messages (services/intake.py);
  `user.upserted` -> the recipient directory. Up to 50 events at hand are applied in one transaction (the
  chassis' batch_size), and their messages go to the worker in one delivery task. Events come from the
  services and, during the transition, from the monolith's outbox: the same types, the same handlers.
- `notification_service.deliveries`: `notification.redeliver` (a dead-lettered delivery replayed by the
  console) -> the notification is queued again.
Run each with `python -m extracted.notification_service consume <name>`.
"""

from __future__ import annotations

from chassis.consumers import EventConsumer
from contracts.events import Envelope
from contracts.user import USER_UPSERTED

from .catalog import RULES
from .services import intake
from .services.dead_letters import DELIVERIES_CONSUMER, REDELIVER


def on_user(envelope: Envelope) -> None:
    intake.recipient_upsert(envelope)


def on_event(envelope: Envelope) -> None:
    intake.notifications_from_event(envelope)


def on_redeliver(envelope: Envelope) -> None:
    from .services.delivery import notification_requeue

    notification_id = envelope.data.get("notification_id")
    if not isinstance(notification_id, str):
        raise ValueError("notification.redeliver without a notification_id")
    notification_requeue(notification_id)


class NotificationEventsConsumer(EventConsumer):
    name = "notification_service.events"
    bindings = ("order.*", "payment.*", "account.*", USER_UPSERTED)
    handlers = {USER_UPSERTED: on_user, **dict.fromkeys(RULES, on_event)}
    batch_size = 50  # events at hand applied in one transaction (chassis/consumers.py)


class DeliveriesConsumer(EventConsumer):
    name = DELIVERIES_CONSUMER
    bindings = (REDELIVER,)
    handlers = {REDELIVER: on_redeliver}
