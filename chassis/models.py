"""Chassis models: the processed-event ids that make consumers idempotent; the event-signing keys."""

from django.db import models
from django.db.models import Q

from chassis.keyring import SigningKeyFields


class ProcessedEvent(models.Model):
    """Written in the same transaction as a handler's effects: a replayed event finds it and is skipped."""

    consumer = models.CharField(max_length=200)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "chassis_processed_event"
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="chassis_processed_once")
        ]

    def __str__(self) -> str:
        return f"{self.consumer} {self.event_id}"


class EventSigningKey(SigningKeyFields):
    """A key this process's service signs its critical events with (chassis/event_keys.py); the private
    half sealed with AES-256-GCM under EVENT_KEY_ENCRYPTION_KEY."""

    class Meta:
        db_table = "chassis_event_signing_key"
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="active"), name="chassis_one_active_event_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kid} ({self.state})"
