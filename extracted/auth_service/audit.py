"""The auth audit log: append-only rows in the auth database, one hash chain (kernel.audit: HMAC-SHA256
under AUTH_AUDIT_KEY, the same walk and reasons as the flags' and the gateway's logs).

An append locks the head row (count, last hash and its signature), so entries form one line even under
concurrent logins; signed checkpoints go to AUTH_AUDIT_CHECKPOINTS: the `table` (in the append's own
transaction, so a rollback takes its checkpoint with it), a file or Redis (after the commit). On
PostgreSQL a trigger also refuses UPDATE and DELETE of entries and checkpoints. A chain written before
audit keys is continued by a link entry (`audit.link`) at the next append.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kernel.audit import (
    GENESIS,
    MISSING,
    AuditKey,
    ChainHead,
    Checkpoint,
    Checkpointer,
    CheckpointStore,
    Verification,
    canonical,
    head_after,
    head_record,
    link_fields,
    open_checkpoints,
    seal,
    verify_chain,
)

from .models import AuditCheckpoint, AuditEntry, AuditHead

TABLE_STORE = "table"


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
    AUDIT_LINK = "audit.link"  # the first keyed entry after a chain written before audit keys


class TableCheckpoints:
    """Checkpoints in auth_service_audit_checkpoint (the default store)."""

    def __str__(self) -> str:
        return "table auth_service_audit_checkpoint"

    def add(self, checkpoint: Checkpoint) -> None:
        AuditCheckpoint.objects.create(
            chain=checkpoint.chain,
            seq=checkpoint.seq,
            hash=checkpoint.hash,
            at=checkpoint.at,
            sig=checkpoint.sig,
        )

    def checkpoints(self, chain: str) -> list[Checkpoint]:
        rows = AuditCheckpoint.objects.filter(chain=chain).order_by("seq", "id")
        return [Checkpoint(row.chain, row.seq, row.hash, row.at, row.sig) for row in rows]

    def latest(self, chain: str) -> Checkpoint | None:
        row = AuditCheckpoint.objects.filter(chain=chain).order_by("-seq", "-id").first()
        return None if row is None else Checkpoint(row.chain, row.seq, row.hash, row.at, row.sig)


@cache
def _audit(
    secret: str, store_url: str, every_seconds: float, var_dir: str, chain: str
) -> tuple[AuditKey, Checkpointer]:
    key = AuditKey(secret)
    if store_url == TABLE_STORE:
        store: CheckpointStore = TableCheckpoints()
    else:
        store = open_checkpoints(
            store_url, default=Path(var_dir) / "audit" / "checkpoints" / "auth.checkpoints"
        )
    # The table rolls back with the append: ask it for its latest checkpoint rather than remembering one.
    checkpointer = Checkpointer(
        store, key, chain, every_seconds=every_seconds, remember=store_url != TABLE_STORE
    )
    return key, checkpointer


def audit_setup() -> tuple[AuditKey, Checkpointer]:
    """The key and the checkpointer the settings name (AUTH_AUDIT_KEY, AUTH_AUDIT_CHECKPOINTS,
    AUTH_AUDIT_CHECKPOINT_SECONDS); the development key is refused by the settings with DEBUG off."""
    return _audit(
        settings.AUTH_AUDIT_KEY,
        settings.AUTH_AUDIT_CHECKPOINTS,
        float(settings.AUTH_AUDIT_CHECKPOINT_SECONDS),
        str(settings.VAR_DIR),
        chain_id(),
    )


def chain_id() -> str:
    """The chain's name in a checkpoint store shared with other chains (Redis, a file): its database."""
    return f"auth:{settings.DATABASES['default']['NAME']}"


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
    key, checkpointer = audit_setup()
    with transaction.atomic():
        head_row, _ = AuditHead.objects.select_for_update().get_or_create(id=1, defaults={"hash": GENESIS})
        last = AuditEntry.objects.filter(seq=head_row.entries).first() if head_row.entries else None
        head, needs_link = head_after(key, entry_document(last) if last else None, head_row.entries)
        if needs_link:
            _, head = _append(key, head, event=Event.AUDIT_LINK, data=link_fields(head))
        row, head = _append(
            key,
            head,
            event=event,
            outcome=outcome,
            reason=reason,
            username=username[:150],
            user_id=user_id,
            client_id=client_id,
            ip=ip,
            data=data or {},
        )
        head_row.entries, head_row.hash = head.seq, head.hash
        head_row.signature = head_record(key, head)["sig"]
        head_row.save(update_fields=["entries", "hash", "signature"])
        if not checkpointer.remember:
            checkpointer.note(head)
        else:
            transaction.on_commit(lambda: checkpointer.note(head))
    return row


def _append(key: AuditKey, after: ChainHead, **fields: Any) -> tuple[AuditEntry, ChainHead]:
    row = AuditEntry(occurred_at=timezone.now(), **{"outcome": "ok", **fields})
    document = entry_document(row)
    head = seal(key, document, after)
    row.seq, row.prev_hash, row.hash = document["seq"], document["prev_hash"], document["hash"]
    row.save()
    return row, head


def _lines() -> Iterator[bytes]:
    for row in AuditEntry.objects.order_by("seq").iterator(chunk_size=2000):
        yield canonical(entry_document(row))


def audit_verify() -> Verification:
    """Walk the whole chain against the head row and the checkpoints; ok, or the first bad entry
    (1-based position) and why."""
    key, checkpointer = audit_setup()
    head_row = AuditHead.objects.filter(id=1).first()
    head: Any = MISSING
    if head_row is not None:
        head = {"entries": head_row.entries, "hash": head_row.hash, "sig": head_row.signature}
    return verify_chain(key, [("", _lines())], head=head, store=checkpointer.store, chain=checkpointer.chain)
