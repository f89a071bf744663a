"""Sending one notification: claim it, hand it to its channel, record the outcome.

The state machine: queued -> sending (claimed by one worker with a conditional UPDATE: two workers never
both hold it) -> sent -> delivered | bounced (provider receipts), or back to queued for a retry, or
failed (retries exhausted, or a refusal) and then dead-lettered. A `sending` row whose lease ran out (its
worker died mid-send) may be claimed again; the channel gets the same idempotency key, so a provider
answers the repeat with the first message (SMTP: the same Message-ID, see channels/email.py).

A batch (`notifications_send`, the rows one event batch of the consumer created) is claimed with one
conditional UPDATE and sent over one session per channel (one SMTP connection), each row still finished on
its own right after its send: the once-per-key guarantee is the same as one row at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..channels import Channel, OutgoingMessage, SendFailed, channel_for, channel_sessions
from ..models import Notification

S = Notification.State


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | retry | failed | bounced | skipped
    detail: str = ""


def _claimable() -> Q:
    lease = timezone.now() - timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    return Q(state=S.QUEUED) | Q(state=S.SENDING, claimed_at__lt=lease)


def notification_claim(notification_id: str) -> Notification | None:
    """Move a queued (or abandoned) row to `sending` for this worker; None when another has it or it is
    done."""
    now = timezone.now()
    claimed = Notification.objects.filter(_claimable(), pk=notification_id).update(
        state=S.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return None
    return Notification.objects.get(pk=notification_id)


def notifications_claim(notification_ids: list[str]) -> list[Notification]:
    """Claim every claimable row of `notification_ids` at once (one UPDATE ... RETURNING: a row claimed by
    another worker meanwhile is not returned); the rows, in the order given."""
    if not notification_ids:
        return []
    opts = Notification._meta
    now = timezone.now()
    lease = now - timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    at = opts.get_field("claimed_at")  # values as the backend stores them (SQLite: uuids as hex, text times)
    ids = [opts.pk.get_db_prep_value(uuid.UUID(str(i)), connection) for i in notification_ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {connection.ops.quote_name(opts.db_table)} "  # noqa: S608 (our own names)
            "SET state = %s, claimed_at = %s, attempts = attempts + 1 "
            f"WHERE id IN ({', '.join(['%s'] * len(ids))}) "
            "AND (state = %s OR (state = %s AND claimed_at < %s)) RETURNING id",
            [
                S.SENDING,
                at.get_db_prep_value(now, connection),
                *ids,
                S.QUEUED,
                S.SENDING,
                at.get_db_prep_value(lease, connection),
            ],
        )
        claimed = {str(uuid.UUID(str(row[0]))) for row in cursor.fetchall()}
    rows = {str(row.pk): row for row in Notification.objects.filter(pk__in=claimed)}
    return [rows[i] for i in map(str, notification_ids) if i in rows]


def _finish(row: Notification, **fields) -> bool:
    """Record the outcome of this worker's claim (a no-op when the claim was taken over meanwhile)."""
    return bool(
        Notification.objects.filter(pk=row.pk, state=S.SENDING, claimed_at=row.claimed_at).update(**fields)
    )


def notification_send(notification_id: str, *, final_attempt: bool = False) -> Outcome:
    """Claim and send once. A transient failure puts the row back to `queued` (Outcome "retry"), unless
    this was the final attempt: then it fails (the caller dead-letters it)."""
    row = notification_claim(notification_id)
    if row is None:
        return Outcome("skipped", "not queued (already sent, in flight or suppressed)")
    return _deliver(row, channel_for(row.channel), final_attempt=final_attempt)


def notifications_send(notification_ids: list[str]) -> dict[str, Outcome]:
    """Claim the batch and send each claimed row through one session per channel; {id: Outcome} for every
    id given ("skipped" for those not claimed). A row's last attempt is decided by its attempts."""
    outcomes = {
        str(i): Outcome("skipped", "not queued (already sent, in flight or suppressed)")
        for i in notification_ids
    }
    rows = notifications_claim(list(outcomes))
    if not rows:
        return outcomes
    with channel_sessions() as channels:
        for row in rows:
            final = row.attempts > settings.NOTIFICATION_MAX_RETRIES
            outcomes[str(row.pk)] = _deliver(row, channels(row.channel), final_attempt=final)
    return outcomes


def _deliver(row: Notification, channel: Channel, *, final_attempt: bool) -> Outcome:
    """Hand this worker's claimed row to its channel and record the outcome."""
    message = OutgoingMessage(
        key=row.idempotency_key,
        channel=row.channel,
        address=row.address,
        subject=row.subject,
        text=row.text,
        html=row.html,
        locale=row.locale,
        trace_id=row.trace_id,
    )
    try:
        accepted = channel.send(message)
    except SendFailed as exc:
        now = timezone.now()
        if exc.bounced:
            _finish(row, state=S.BOUNCED, reason=str(exc)[:200], finished_at=now)
            return Outcome("bounced", str(exc))
        if exc.permanent or final_attempt:
            _finish(row, state=S.FAILED, reason=str(exc)[:200], finished_at=now)
            return Outcome("failed", str(exc))
        _finish(row, state=S.QUEUED, reason=str(exc)[:200])
        return Outcome("retry", str(exc))
    _finish(row, state=S.SENT, sent_at=timezone.now(), provider_ref=accepted.provider_ref, reason="")
    return Outcome("sent", accepted.provider_ref)


def notification_requeue(notification_id: str) -> bool:
    """A failed notification replayed from the DLQ: queued again with a fresh retry budget (on commit)."""
    from chassis.celery_app import enqueue_on_commit

    from ..tasks import notification_deliver

    with transaction.atomic():
        moved = Notification.objects.filter(pk=notification_id, state=S.FAILED).update(
            state=S.QUEUED, reason="replayed", finished_at=None
        )
        if moved:
            enqueue_on_commit(notification_deliver, notification_id)
    return bool(moved)


def notifications_due() -> list[str]:
    """Rows a lost task or a dead worker left behind: queued for a while, or sending past the lease."""
    stale = timezone.now() - timedelta(seconds=settings.NOTIFICATION_SEND_LEASE_SECONDS)
    lease_over = Q(state=S.SENDING, claimed_at__lt=stale)
    forgotten = Q(state=S.QUEUED, created_at__lt=stale)
    return [
        str(pk)
        for pk in Notification.objects.filter(lease_over | forgotten).values_list("pk", flat=True)[:1000]
    ]
