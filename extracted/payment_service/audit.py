"""The payment audit trail: every state change of a payment or refund, every reconciliation and key
operation, as append-only rows chained by hash (the kernel's canonical JSON and chain walk, the same
scheme as the Auth service's table, extracted/auth_service/audit.py).

An append locks the head row (count and last hash), so entries form one line under concurrent workers;
`audit_verify` walks the table in order and compares the end with the head, so an edited, removed,
reordered or cut entry is found. On PostgreSQL a trigger refuses UPDATE and DELETE (migration 0002).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from kernel.audit import GENESIS, Verification, canonical, entry_hash, walk_chain

from .models import AuditEntry, AuditHead


def _timestamp(when) -> str:
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def entry_document(row: AuditEntry) -> dict[str, Any]:
    """The hashed form of a row (everything but the row id)."""
    return {
        "seq": row.seq,
        "at": _timestamp(row.occurred_at),
        "event": row.event,
        "payment_id": row.payment_id,
        "actor": row.actor,
        "data": row.data,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def audit_record(
    *, event: str, payment_id: int | None = None, actor: str = "", data: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry; inside the caller's transaction it commits (or rolls back) with the change."""
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
        row = AuditEntry(
            seq=head.entries + 1,
            occurred_at=timezone.now(),
            event=event,
            payment_id=payment_id,
            actor=actor[:80],
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
