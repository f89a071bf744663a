"""The generic backfill: keyset batches from the source, translated, bulk-upserted into the target,
a checkpoint after every batch so that a killed run resumes at the next id.

The next batch is read and translated while earlier ones are on the wire (sender threads; the database
stays on the calling thread). A batch's checkpoint is written only once the target acknowledged it and
every batch before it, so after a kill at most the batches in flight are sent again, and re-sending is a
no-op (the target applies a document only when its version is newer).
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from contracts.errors import ApplicationError

from .checkpoint import checkpoint_advance, checkpoint_finish, checkpoint_start
from .errors import SyncError
from .progress import Tracker
from .spec import Document, EntitySpec, ImportResult


@dataclass
class BackfillResult:
    entity: str
    rows: int = 0
    batches: int = 0
    resumed_from: int = 0
    last_id: int = 0
    seconds: float = 0.0
    dry_run: bool = False
    result: ImportResult = field(default_factory=ImportResult)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict:
        return {
            "entity": self.entity,
            "rows": self.rows,
            "batches": self.batches,
            "applied": self.result.applied,
            "stale": self.result.stale,
            "resumed_from_id": self.resumed_from,
            "last_id": self.last_id,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "dry_run": self.dry_run,
        }


def checkpoint_name(spec: EntitySpec) -> str:
    return f"{spec.name}.backfill"


def run_backfill(
    spec: EntitySpec,
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    restart: bool = False,
    in_flight: int = 2,
    tracker: Tracker | None = None,
) -> BackfillResult:
    """Copy every source row of `spec` into its target; resume an unfinished run unless `restart`.
    Up to `in_flight` batches are on the wire at once (one sender thread each); the checkpoint only
    moves past a batch once it and every batch before it were acknowledged. A dry run reads, translates
    and checks everything against the target's contract, sends nothing and leaves the checkpoint alone."""
    if batch_size < 1 or in_flight < 1:
        raise ValueError("batch size and batches in flight must be at least 1")
    tracker = tracker or Tracker(None)
    name = checkpoint_name(spec)
    if dry_run:
        last_id, rows_done = 0, 0
    else:
        start = checkpoint_start(name=name, restart=restart)
        last_id, rows_done = start.last_id, start.rows_done
    outcome = BackfillResult(entity=spec.name, resumed_from=last_id, last_id=last_id, dry_run=dry_run)
    tracker.start(f"backfill {spec.name}", spec.remaining(last_id))
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix=f"backfill-{spec.name}") as sender:
        pending: deque[tuple[Future, int, int]] = deque()  # (send, batch's last id, batch's rows), in order

        def settle_oldest() -> None:
            nonlocal rows_done
            future, batch_last_id, batch_rows = pending.popleft()
            outcome.result += future.result()
            rows_done += batch_rows
            checkpoint_advance(name=name, last_id=batch_last_id, rows_done=rows_done)
            tracker.advance(batch_rows)

        while True:
            rows = spec.fetch_after(last_id, batch_size)
            if not rows:
                break
            documents: list[Document] = [spec.translate(row) for row in rows]
            last_id = rows[-1]["id"]
            outcome.rows += len(rows)
            outcome.batches += 1
            outcome.last_id = last_id
            if dry_run:
                _validate(spec, documents)
                tracker.advance(len(rows))
                continue
            if len(pending) >= in_flight:
                settle_oldest()
            pending.append((sender.submit(spec.send, documents, []), last_id, len(rows)))
        while pending:
            settle_oldest()
    if not dry_run:
        checkpoint_finish(name=name)
    outcome.seconds = time.perf_counter() - began
    return outcome


def _validate(spec: EntitySpec, documents: list[Document]) -> None:
    if spec.validate is None:
        return
    for document in documents:
        try:
            spec.validate(document)
        except (ApplicationError, ValueError) as exc:
            raise SyncError(
                f"{spec.name} {document.get('id')}: {exc}",
                code="invalid_document",
                extra={"id": document.get("id")},
            ) from exc
