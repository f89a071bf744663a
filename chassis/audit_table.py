"""A hash-chained audit log kept in a service's own tables, on the kernel's keyed chain (kernel.audit):
entries sealed with HMAC-SHA256 under the service's audit key, a signed head row, signed checkpoints in a
store that is not the entries' table (`table`: a checkpoint table written in the append's transaction; a
file path or `redis://…`: after the commit), and `verify` with the kernel's walk and reasons.

A service declares its three models and the hashed form of an entry row:

    chain = TableAuditChain(
        entry_model=AuditEntry, head_model=AuditHead, checkpoint_model=AuditCheckpoint,
        document=entry_document, name="payment", settings_prefix="PAYMENT_AUDIT",
    )
    chain.record(event="payment.captured", payment_id=..., data={...})
    chain.verify()  # kernel.audit.Verification

Models: the entry has `seq`, `occurred_at`, `prev_hash`, `hash` and the service's own fields; the head
(one row, id 1) `entries`, `hash`, `signature`; the checkpoint `chain`, `seq`, `hash`, `at`, `sig`.
Settings: `<prefix>_KEY`, `<prefix>_CHECKPOINTS` (`table` | path | `redis://…`),
`<prefix>_CHECKPOINT_SECONDS`. An append locks the head row, so entries form one line under concurrent
writers; a chain written before keys is continued by a link entry (`audit.link`) at the next append. The
Auth service's audit (extracted/auth_service/audit.py) is the model this generalises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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

TABLE_STORE = "table"
LINK_EVENT = "audit.link"


class TableCheckpoints:
    """Checkpoints in the service's checkpoint table (the default store)."""

    def __init__(self, model) -> None:
        self.model = model

    def __str__(self) -> str:
        return f"table {self.model._meta.db_table}"

    def add(self, checkpoint: Checkpoint) -> None:
        self.model.objects.create(
            chain=checkpoint.chain,
            seq=checkpoint.seq,
            hash=checkpoint.hash,
            at=checkpoint.at,
            sig=checkpoint.sig,
        )

    def checkpoints(self, chain: str) -> list[Checkpoint]:
        rows = self.model.objects.filter(chain=chain).order_by("seq", "id")
        return [Checkpoint(row.chain, row.seq, row.hash, row.at, row.sig) for row in rows]

    def latest(self, chain: str) -> Checkpoint | None:
        row = self.model.objects.filter(chain=chain).order_by("-seq", "-id").first()
        return None if row is None else Checkpoint(row.chain, row.seq, row.hash, row.at, row.sig)


@cache
def _setup(
    secret: str, store_url: str, every_seconds: float, default_file: str, chain: str, checkpoint_model
) -> tuple[AuditKey, Checkpointer]:
    key = AuditKey(secret)
    if store_url == TABLE_STORE:
        store: CheckpointStore = TableCheckpoints(checkpoint_model)
    else:
        store = open_checkpoints(store_url, default=Path(default_file))
    # The table rolls back with the append: ask it for its latest checkpoint rather than remember one.
    return key, Checkpointer(
        store, key, chain, every_seconds=every_seconds, remember=store_url != TABLE_STORE
    )


class TableAuditChain:
    def __init__(
        self,
        *,
        entry_model,
        head_model,
        checkpoint_model,
        document: Callable[[Any], dict[str, Any]],
        name: str,
        settings_prefix: str,
    ) -> None:
        self.entry_model = entry_model
        self.head_model = head_model
        self.checkpoint_model = checkpoint_model
        self.document = document
        self.name = name
        self.prefix = settings_prefix

    def chain_id(self) -> str:
        """The chain's name in a checkpoint store shared with other chains: service and database."""
        return f"{self.name}:{settings.DATABASES['default']['NAME']}"

    def setup(self) -> tuple[AuditKey, Checkpointer]:
        return _setup(
            getattr(settings, f"{self.prefix}_KEY"),
            getattr(settings, f"{self.prefix}_CHECKPOINTS"),
            float(getattr(settings, f"{self.prefix}_CHECKPOINT_SECONDS")),
            str(Path(settings.VAR_DIR) / "audit" / "checkpoints" / f"{self.name}.checkpoints"),
            self.chain_id(),
            self.checkpoint_model,
        )

    def record(self, **fields: Any):
        """Append one entry; inside the caller's transaction it commits (or rolls back) with it."""
        key, checkpointer = self.setup()
        with transaction.atomic():
            head_row, _ = self.head_model.objects.select_for_update().get_or_create(
                id=1, defaults={"hash": GENESIS}
            )
            last = self.entry_model.objects.filter(seq=head_row.entries).first() if head_row.entries else None
            head, needs_link = head_after(key, self.document(last) if last else None, head_row.entries)
            if needs_link:
                _, head = self._append(key, head, event=LINK_EVENT, data=link_fields(head))
            row, head = self._append(key, head, **fields)
            head_row.entries, head_row.hash = head.seq, head.hash
            head_row.signature = head_record(key, head)["sig"]
            head_row.save(update_fields=["entries", "hash", "signature"])
            if not checkpointer.remember:
                checkpointer.note(head)
            else:
                transaction.on_commit(lambda: checkpointer.note(head))
        return row

    def _append(self, key: AuditKey, after: ChainHead, **fields: Any):
        row = self.entry_model(occurred_at=timezone.now(), **fields)
        document = self.document(row)
        head = seal(key, document, after)
        row.seq, row.prev_hash, row.hash = document["seq"], document["prev_hash"], document["hash"]
        row.save()
        return row, head

    def _lines(self) -> Iterator[bytes]:
        for row in self.entry_model.objects.order_by("seq").iterator(chunk_size=2000):
            yield canonical(self.document(row))

    def verify(self) -> Verification:
        """Walk the whole chain against the head row and the checkpoints: ok, or the first bad entry
        (1-based position) and why."""
        key, checkpointer = self.setup()
        head_row = self.head_model.objects.filter(id=1).first()
        head: Any = MISSING
        if head_row is not None:
            head = {"entries": head_row.entries, "hash": head_row.hash, "sig": head_row.signature}
        return verify_chain(
            key, [("", self._lines())], head=head, store=checkpointer.store, chain=checkpointer.chain
        )
