"""The auth audit log: append-only rows in the auth database, each chained to the one before by a
SHA-256 hash (the same canonical JSON and chain walk as the flag audit log, flags/audit.py).

An append locks the head row (count and last hash), so entries form one line even under concurrent
logins; `audit_verify` walks the table in order and compares the end with the head, so an edited,
removed, reordered or cut entry is found. On PostgreSQL a trigger also refuses UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from kernel.audit import GENESIS, Verification, canonical, entry_hash, walk_chain

from .models import AuditEntry, AuditHead


class Event:
    LOGIN = "login"  # outcome ok / failed (reason: invalid_credentials, account_locked, account_inactive)
    LOCKOUT = "account.locked"
    UNLOCK = "account.unlocked"
    PASSWORD_CHANGED = "password.changed"
    PASSWORD_REHASHED = "password.rehashed"  # a legacy hash upgraded to Argon2id at login
    TOKEN_ISSUED = "token.issued"
    TOKEN_REFRESHED = "token.refreshed"
    TOKEN_REVOKED = "token.revoked"
    REFRESH_REUSED = "token.refresh_reused"  # a replayed refresh token: its family is revoked
    KEYS_ROTATED = "keys.rotated"


def _timestamp(when) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_document(row: AuditEntry) -> dict[str, Any]:
    """The hashed form of a row (everything but the row id)."""
    return {
        "seq": row.seq,
        "at": _timestamp(row.occurred_at),
        "event": row.event,
        "outcome": row.outcome,
        "reason": row.reason,
        "username": row.username,
        "user_id": row.user_id,
        "client_id": row.client_id,
        "ip": row.ip,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def audit_record(
    *,
    event: str,
    outcome: str = "ok",
    reason: str = "",
    username: str = "",
    user_id: int | None = None,
    client_id: str = "",
    ip: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in its own transaction (so a refused login is recorded even though the request
    fails); inside an outer transaction it commits with it."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
        row = AuditEntry(
            seq=head.entries + 1,
            occurred_at=timezone.now(),
            event=event,
            outcome=outcome,
            reason=reason,
            username=username[:150],
            user_id=user_id,
            client_id=client_id,
            ip=ip,
            data=data or {},
            prev_hash=head.hash,
        )
        document = entry_document(row)
        document.pop("hash")
        row.hash = entry_hash(document)
        row.save()
        head.entries, head.hash = row.seq, row.hash
        head.save(update_fields=["entries", "hash"])
    return row


def _lines() -> Iterator[bytes]:
    for row in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        yield canonical(entry_document(row))


def audit_verify() -> Verification:
    """Walk the whole chain; ok, or the first bad entry (1-based position) and why."""
    walk = walk_chain(_lines())
    if walk.failure:
        return walk.failure
    count = len(walk.hashes)
    head = AuditHead.objects.filter(id=1).first()
    recorded, recorded_hash = (head.entries, head.hash) if head else (0, GENESIS)
    if recorded != count:
        return Verification(False, count, min(recorded, count) + 1, f"the head records {recorded} entries")
    if count and walk.hashes[-1] != recorded_hash:
        return Verification(False, count, count, "the last entry differs from the one the head names")
    return Verification(True, count)
