"""Chassis models: the processed-event ids that make consumers idempotent."""

from django.db import models


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
