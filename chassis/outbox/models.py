"""A service's outbox rows: one per event, written in the business transaction, pending until confirmed."""

import uuid

from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    event_id = models.UUIDField(unique=True, default=uuid.uuid4)
    type = models.CharField(max_length=200)
    trace_id = models.CharField(max_length=32)
    data = models.JSONField()
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "chassis_outbox_event"
        indexes = [
            models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="chassis_outbox_pending")
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
