"""`sync users follow`: monolith user changes reach the auth service by a periodic keyset pass over
(updated_at, id) "changed since the last pass".

Why not H3a's trigger outbox (migrations_data/outbox): it would need a sync_version column and triggers
on accounts_user, the outbox's entity table extended, and a broker consumer inside the auth service,
for an entity that changes a few times per user per month. The pass needs none of that: every save of a
user bumps `updated_at` (auto_now), which is also the document's version, so a re-sent row is an
idempotent no-op and a late batch never overwrites a newer change. Each pass re-reads an `overlap`
window behind its checkpoint, so a transaction that committed late with an older updated_at is still
picked up. Not caught (documented limit): writes that bypass save() without setting updated_at
(QuerySet.update, raw SQL) - `sync users verify --repair` finds and fixes those.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import F, Q
from django.utils import timezone

from acl_adapters.accounts.translate import USER_ROW_FIELDS
from migrations_data.engine.http import InternalApiClient
from migrations_data.models import SyncCheckpoint

from .spec import user_spec

CHECKPOINT = "users.follow"


@dataclass
class FollowResult:
    passes: int = 0
    sent: int = 0
    applied: int = 0
    stale: int = 0

    def as_dict(self) -> dict:
        return {"passes": self.passes, "sent": self.sent, "applied": self.applied, "stale": self.stale}


def _position() -> tuple[datetime, int]:
    checkpoint, _ = SyncCheckpoint.objects.get_or_create(name=CHECKPOINT, defaults={"position": {}})
    position = checkpoint.position or {}
    if "updated_at" not in position:
        return datetime.fromtimestamp(0, tz=UTC), 0
    return datetime.fromisoformat(position["updated_at"]), int(position.get("id", 0))


def _save(updated_at: datetime, last_id: int, rows: int) -> None:
    SyncCheckpoint.objects.filter(name=CHECKPOINT).update(
        position={"updated_at": updated_at.isoformat(), "id": last_id},
        rows_done=F("rows_done") + rows,
        updated_at=timezone.now(),
    )


def follow_pass(client: InternalApiClient, *, batch_size: int = 500, overlap: float = 5.0) -> FollowResult:
    """One pass: every user changed since the checkpoint (minus `overlap` seconds) in (updated_at, id)
    order, sent in batches; the checkpoint advances after each acknowledged batch."""
    spec = user_spec(client)
    result = FollowResult(passes=1)
    since, last_id = _position()
    # strictly after the checkpoint; with an overlap, from `overlap` seconds before it
    cursor_at, cursor_id = (since, last_id) if overlap == 0 else (since - timedelta(seconds=overlap), 0)
    model = get_user_model()
    while True:
        rows = list(
            model.objects.filter(Q(updated_at__gt=cursor_at) | Q(updated_at=cursor_at, id__gt=cursor_id))
            .order_by("updated_at", "id")
            .values(*USER_ROW_FIELDS)[:batch_size]
        )
        if not rows:
            break
        answer = spec.send([spec.translate(row) for row in rows], [])
        result.sent += len(rows)
        result.applied += answer.applied
        result.stale += answer.stale
        cursor_at, cursor_id = rows[-1]["updated_at"], rows[-1]["id"]
        _save(cursor_at, cursor_id, answer.applied)
    return result


def run_follow(
    client: InternalApiClient,
    *,
    once: bool = False,
    interval: float = 2.0,
    batch_size: int = 500,
    overlap: float = 5.0,
    stop_event: threading.Event | None = None,
) -> FollowResult:
    """Passes every `interval` seconds until `stop_event` (or one pass with `once`)."""
    if interval <= 0 or batch_size < 1 or overlap < 0:
        raise ValueError("--interval must be > 0, --batch-size >= 1, --overlap >= 0")
    stop_event = stop_event or threading.Event()
    total = FollowResult()
    while True:
        one = follow_pass(client, batch_size=batch_size, overlap=overlap)
        total.passes += 1
        total.sent += one.sent
        total.applied += one.applied
        total.stale += one.stale
        if once or stop_event.wait(interval):
            return total
