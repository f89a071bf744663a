"""`verify`, the same for every log: walk the entries in order (each a JSON object, linked to the one
before, hashing to its own `hash`, numbered one after another), then hold the walk against the signed head
record and the signed checkpoints. Memory stays flat: the head and the checkpoints are checked as the walk
passes their entry.

The reasons a verification gives are the same whatever the storage (a file, rotated files, a table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .chain import GENESIS, HEAD_PURPOSE, AuditKey, ChainHead, classify
from .checkpoints import Checkpoint, CheckpointStore, CheckpointStoreError

NOT_JSON = "not a JSON object (edited or cut)"
BAD_LINK = "prev_hash does not match the line before (removed or reordered)"
BAD_HASH = "hash does not match its content (edited)"
BAD_SEQ = "seq does not follow the line before (removed or reordered)"
NOT_KEYED = "the chain is not keyed (unkeyed SHA-256 only): its next entry links it to a keyed chain"
HEAD_MISSING = "the head record is missing"
HEAD_UNREADABLE = "the head record is unreadable"
HEAD_FORGED = "the head record is not signed with the log's key (forged)"
HEAD_DIFFERS = "differs from the last entry the head record names"
CHECKPOINT_FORGED = "a checkpoint is not signed with the log's key (forged)"
CHECKPOINT_DIFFERS = "differs from the entry a checkpoint names (rewritten)"
NO_CHECKPOINT = "no checkpoint anchors the chain"


@dataclass(frozen=True)
class Verification:
    """What a verify found: ok, or the first bad line (1-based, across files) and why. `checkpoints`:
    how many checkpoints were held against the log."""

    ok: bool
    entries: int
    bad_line: int | None = None
    reason: str = ""
    checkpoints: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "bad_line": self.bad_line,
            "reason": self.reason,
            "checkpoints": self.checkpoints,
        }


MISSING = object()  # a head record that should exist and does not


@dataclass(frozen=True, slots=True)
class _Anchor:
    """A (seq, hash) the walk must meet: the head record or a checkpoint."""

    seq: int
    hash: str
    kind: str  # "head" | "checkpoint"


def read_head(key: AuditKey, record: Any) -> ChainHead | str:
    """A head record (dict, as stored) as a ChainHead, or the reason it is not one."""
    try:
        head = ChainHead(int(record["entries"]), str(record["hash"]))
    except (KeyError, TypeError, ValueError):
        return HEAD_UNREADABLE
    if not key.signed(HEAD_PURPOSE, head.fields(), record.get("sig")):
        return HEAD_FORGED
    return head


def verify_chain(
    key: AuditKey,
    parts: Iterable[tuple[str, Iterable[bytes]]],
    *,
    head: Any = None,
    store: CheckpointStore | None = None,
    chain: str = "",
    open_start: bool = False,
) -> Verification:
    """Verify one chain made of `parts` ((where, lines) in chain order; `where` prefixes reasons, e.g. a
    file's name). `head`: the stored head record (a dict), None when the log keeps none, MISSING when it
    should and does not. `store`/`chain`: where its checkpoints are. `open_start`: the first line may link
    to anything (older files were rotated away); checkpoints and a head before it are skipped."""
    try:
        checkpoints = store.checkpoints(chain) if store is not None else []
    except CheckpointStoreError as exc:
        return Verification(False, 0, None, str(exc))
    return _Walk(key, checkpoints, head, open_start, store is not None).run(parts)


class _Walk:
    def __init__(
        self, key: AuditKey, checkpoints: Sequence[Checkpoint], head: Any, open_start: bool, anchored: bool
    ) -> None:
        self.key, self.head, self.open_start, self.anchored = key, head, open_start, anchored
        self.number = 0  # lines walked
        self.keyed = 0
        self.last_seq: int | None = None
        self.first_seq: int | None = None
        self.checked = 0
        signed = [c for c in checkpoints if c.signed_by(key)]
        self.forged = len(signed) < len(checkpoints)  # reported once the walk found nothing worse
        self.anchors = sorted((_Anchor(c.seq, c.hash, "checkpoint") for c in signed), key=lambda a: a.seq)
        self.had_checkpoints = bool(checkpoints)

    def fail(self, line: int | None, reason: str) -> Verification:
        return Verification(False, self.number, line, reason, self.checked)

    def run(self, parts: Iterable[tuple[str, Iterable[bytes]]]) -> Verification:
        head_problem = self._add_head()
        prev_hash: str | None = None if self.open_start else GENESIS
        for where, lines in parts:
            for raw in lines:
                self.number += 1
                failure = self._step(where, raw, prev_hash)
                if isinstance(failure, Verification):
                    return failure
                prev_hash = failure
        return self._finish(head_problem)

    def _add_head(self) -> str | None:
        if self.head is None:
            return None
        if self.head is MISSING:
            return HEAD_MISSING
        head = read_head(self.key, self.head)
        if isinstance(head, str):
            return head
        if head.seq:
            self.anchors.append(_Anchor(head.seq, head.hash, "head"))
            self.anchors.sort(key=lambda a: a.seq)
        return None

    def _step(self, where: str, raw: bytes, prev_hash: str | None) -> Verification | str:
        number = self.number
        try:
            entry = json.loads(raw)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            return self.fail(number, where + NOT_JSON)
        if prev_hash is not None and entry.get("prev_hash") != prev_hash:
            return self.fail(number, where + BAD_LINK)
        kind = classify(self.key, entry)
        if kind is None or (kind == "legacy" and self.keyed):
            return self.fail(number, where + BAD_HASH)
        if kind == "keyed":
            seq = entry.get("seq")
            if self.last_seq is not None:
                expected: int | None = self.last_seq + 1
            elif number == 1 and not self.open_start:
                expected = 1
            else:  # the first keyed entry after unkeyed ones, or the first visible after a rotation
                expected = None
            if not isinstance(seq, int) or seq < 1 or (expected is not None and seq != expected):
                return self.fail(number, where + BAD_SEQ)
            self.keyed += 1
            self.last_seq = seq
            if self.first_seq is None:
                self.first_seq = seq
                # anchors before the first visible keyed entry were rotated away (or name legacy lines)
                while self.anchors and self.anchors[0].seq < seq:
                    self.anchors.pop(0)
            while self.anchors and self.anchors[0].seq == seq:
                anchor = self.anchors.pop(0)
                if anchor.hash != entry["hash"]:
                    return self.fail(
                        number, where + (HEAD_DIFFERS if anchor.kind == "head" else CHECKPOINT_DIFFERS)
                    )
                self.checked += anchor.kind == "checkpoint"
        return entry["hash"]

    def _finish(self, head_problem: str | None) -> Verification:
        if self.number == 0:
            if head_problem and head_problem != HEAD_MISSING:
                return self.fail(None, head_problem)
            if self.forged:
                return self.fail(None, CHECKPOINT_FORGED)
            if self.anchors:
                return self.fail(1, f"the log is empty but {self.anchors[-1].seq} entries were written (cut)")
            return Verification(True, 0)
        if not self.keyed:
            return self.fail(None, NOT_KEYED)
        if head_problem:
            return self.fail(None, head_problem)
        if self.forged:
            return self.fail(None, CHECKPOINT_FORGED)
        if self.anchors:
            anchor = self.anchors[-1]
            what = (
                f"{anchor.seq} entries were written"
                if anchor.kind == "head"
                else f"a checkpoint names entry {anchor.seq}"
            )
            return self.fail(self.number + 1, f"the log ends at entry {self.last_seq} but {what} (cut)")
        if self.anchored and not self.had_checkpoints:
            return self.fail(None, NO_CHECKPOINT)
        return Verification(True, self.number, checkpoints=self.checked)
