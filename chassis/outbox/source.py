"""The relay source over this service's OutboxEvent rows (see relay.py for the protocol)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chassis.outbox.relay import PendingEvent
from contracts.events import Envelope


class ServiceOutboxSource:
    def __init__(self, using: str = "default", source_name: str | None = None):
        from django.conf import settings

        self.using = using
        self.source_name = source_name or settings.EVENT_SOURCE

    def atomic(self):
        return transaction.atomic(using=self.using)

    def precheck(self) -> None:
        """Touch the outbox table once: a database that is down, missing or not migrated fails the command
        at start with its own error (the relay loop keeps going through outages)."""
        from chassis.outbox.models import OutboxEvent

        OutboxEvent.objects.using(self.using).filter(sent_at__isnull=True).exists()

    def claim(self, batch_size: int) -> list[PendingEvent]:
        from chassis.outbox.models import OutboxEvent

        rows = (
            OutboxEvent.objects.using(self.using)
            .filter(sent_at__isnull=True)
            .order_by("id")
            .select_for_update(skip_locked=True)[:batch_size]
        )
        return [
            PendingEvent(
                row.id,
                Envelope(
                    id=str(row.event_id),
                    type=row.type,
                    occurred_at=row.occurred_at,
                    trace_id=row.trace_id,
                    source=self.source_name,
                    data=row.data,
                ),
            )
            for row in rows
        ]

    def mark_sent(self, ids: Sequence[int]) -> None:
        from chassis.outbox.models import OutboxEvent

        OutboxEvent.objects.using(self.using).filter(id__in=ids).update(
            sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
        )

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        from chassis.outbox.models import OutboxEvent

        OutboxEvent.objects.using(self.using).filter(id__in=ids).update(
            attempts=F("attempts") + 1, last_error=error
        )
