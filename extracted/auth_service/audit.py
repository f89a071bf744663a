"""The auth audit log: append-only rows in the auth database on the kernel's keyed hash chain (HMAC-SHA256
under AUTH_AUDIT_KEY; the same walk and reasons as the flags' and the gateway's logs), through the
chassis' table-backed chain (chassis/audit_table.py).

An append locks the head row (count, last hash and its signature), so entries form one line even under
concurrent logins; signed checkpoints go to AUTH_AUDIT_CHECKPOINTS: the `table` (in the append's own
transaction, so a rollback takes its checkpoint with it), a file or Redis (after the commit). On
PostgreSQL a trigger also refuses UPDATE and DELETE of entries and checkpoints. A chain written before
audit keys is continued by a link entry (`audit.link`) at the next append.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from chassis.audit_table import LINK_EVENT, TableAuditChain
from kernel.audit import AuditKey, Checkpointer, Verification

from .models import AuditCheckpoint, AuditEntry, AuditHead


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
    AUDIT_LINK = LINK_EVENT  # the first keyed entry after a chain written before audit keys


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


CHAIN = TableAuditChain(
    entry_model=AuditEntry,
    head_model=AuditHead,
    checkpoint_model=AuditCheckpoint,
    document=entry_document,
    name="auth",
    settings_prefix="AUTH_AUDIT",
)


def audit_setup() -> tuple[AuditKey, Checkpointer]:
    """The key and the checkpointer the settings name (AUTH_AUDIT_KEY, AUTH_AUDIT_CHECKPOINTS,
    AUTH_AUDIT_CHECKPOINT_SECONDS); the development key is refused by the settings with DEBUG off."""
    return CHAIN.setup()


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
    return CHAIN.record(
        event=event,
        outcome=outcome,
        reason=reason,
        username=username[:150],
        user_id=user_id,
        client_id=client_id,
        ip=ip,
        data=data or {},
    )


def audit_verify() -> Verification:
    """Walk the whole chain against the head row and the checkpoints; ok, or the first bad entry
    (1-based position) and why."""
    return CHAIN.verify()
