"""The payment audit trail: every state change of a payment or refund, every reconciliation and key
operation, as append-only rows on the kernel's keyed hash chain (HMAC-SHA256 under PAYMENT_AUDIT_KEY,
signed head, signed checkpoints in PAYMENT_AUDIT_CHECKPOINTS), through the chassis' table-backed chain
(chassis/audit_table.py, modelled on the Auth service's). On PostgreSQL triggers refuse UPDATE and DELETE
of entries and checkpoints; `payments audit verify` names the first edited, removed, reordered or cut
entry, a rewrite without the key, or one without the checkpoint store.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chassis.audit_table import TableAuditChain
from kernel.audit import Verification

from .models import AuditCheckpoint, AuditEntry, AuditHead


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


CHAIN = TableAuditChain(
    entry_model=AuditEntry,
    head_model=AuditHead,
    checkpoint_model=AuditCheckpoint,
    document=entry_document,
    name="payment",
    settings_prefix="PAYMENT_AUDIT",
)


def audit_record(
    *, event: str, payment_id: int | None = None, actor: str = "", data: dict[str, Any] | None = None
) -> AuditEntry:
    """Append one entry; inside the caller's transaction it commits (or rolls back) with the change."""
    return CHAIN.record(event=event, payment_id=payment_id, actor=actor[:80], data=data or {})


def audit_verify() -> Verification:
    return CHAIN.verify()
