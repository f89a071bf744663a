"""What the generic sync engine needs to know about one entity (products, categories, later users)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Row = dict[str, Any]
Document = dict[str, Any]


@dataclass(frozen=True)
class ImportResult:
    applied: int = 0
    stale: int = 0
    deleted: int = 0

    def __add__(self, other: ImportResult) -> ImportResult:
        return ImportResult(
            self.applied + other.applied, self.stale + other.stale, self.deleted + other.deleted
        )


@dataclass(frozen=True)
class EntitySpec:
    """One entity's source, translator and target.

    - `fetch_after(last_id, limit)`: the next rows by ascending id (keyset pagination; plain dicts, no
      model instances), `fetch_ids(ids)`: these rows, `remaining(last_id)`: how many rows lie after it.
    - `translate(row)`: the target's document.
    - `send(documents, tombstones)`: a bulk, idempotent upsert into the target (tombstones: deletions).
    """

    name: str
    fetch_after: Callable[[int, int], Sequence[Row]]
    fetch_ids: Callable[[Iterable[int]], Sequence[Row]]
    remaining: Callable[[int], int]
    translate: Callable[[Row], Document]
    send: Callable[[list[Document], list[Document]], ImportResult]
