"""`outbox_write`: record an event in the caller's transaction; the relay publishes it after commit."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import connections

from chassis.logging import trace_id_var
from contracts.events import Envelope


class OutboxOutsideTransaction(RuntimeError):
    """outbox_write was called outside transaction.atomic(): the event could outlive a rolled-back change."""


def outbox_write(type: str, data: dict[str, Any], *, trace_id: str | None = None, using: str = "default"):
    """Add one event to the outbox; must run inside the caller's `transaction.atomic()`. Returns the row."""
    from chassis.outbox.models import OutboxEvent

    if not connections[using].in_atomic_block:
        raise OutboxOutsideTransaction(f"outbox_write({type!r}) must run inside transaction.atomic()")
    current = trace_id_var.get()
    envelope = Envelope.new(
        type, data, source=settings.EVENT_SOURCE, trace_id=trace_id or (None if current == "-" else current)
    )
    return OutboxEvent.objects.using(using).create(
        event_id=uuid.UUID(envelope.id),
        type=envelope.type,
        trace_id=envelope.trace_id,
        data=envelope.data,
        occurred_at=envelope.occurred_at,
    )
