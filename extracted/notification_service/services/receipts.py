"""Delivery receipts from the push and SMS providers (signed webhooks): sent -> delivered | bounced.

A receipt names the notification by its idempotency key (the row's id). A receipt for a row not yet
marked `sent` (the provider answered, our commit is a moment behind) is refused with 409 so the provider
sends it again; a receipt for a row already final is an idempotent no-op.
"""

from __future__ import annotations

import time
import uuid

import orjson
from django.conf import settings
from django.utils import timezone

from contracts.errors import ApplicationError
from contracts.webhook_signatures import verify_signature

from ..models import Notification

S = Notification.State
OUTCOMES = {"delivered": S.DELIVERED, "bounced": S.BOUNCED}


def receipt_apply(*, channel: str, body: bytes, signature: str | None) -> str:
    """Apply one signed receipt; the notification's state afterwards."""
    verify_signature(
        body=body,
        header=signature,
        secret=settings.NOTIFICATION_RECEIPT_SECRET,
        now=time.time(),
        tolerance_seconds=settings.NOTIFICATION_RECEIPT_TOLERANCE_SECONDS,
    )
    try:
        receipt = orjson.loads(body)
        key = uuid.UUID(str(receipt["idempotency_key"]))
        outcome = OUTCOMES[receipt["status"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ApplicationError(
            "invalid_receipt", "A receipt has idempotency_key (uuid) and status delivered|bounced"
        ) from None
    row = Notification.objects.filter(pk=key, channel=channel).first()
    if row is None:
        raise ApplicationError("notification_not_found", f"No {channel} notification {key}", status=404)
    if row.state in (S.QUEUED, S.SENDING):
        raise ApplicationError(
            "notification_not_sent_yet", "The send is not recorded yet; deliver the receipt again", status=409
        )
    moved = Notification.objects.filter(pk=key, state=S.SENT).update(
        state=outcome,
        finished_at=timezone.now(),
        reason="" if outcome == S.DELIVERED else "bounced (provider receipt)",
    )
    return outcome if moved else row.state
