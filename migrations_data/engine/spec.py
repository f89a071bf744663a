"""What the generic sync engine needs to know about one entity (products, categories, later users)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# What a target's bulk import answers ({"applied", "stale", "deleted"}): the import contract the Product
# service defines, and every service's import path follows.
from contracts.sync import ImportResult

Row = dict[str, Any]
Document = dict[str, Any]


@dataclass(frozen=True)
class EntitySpec:
    """One entity's source, translator and target.

    - `fetch_after(last_id, limit)`: the next rows by ascending id (keyset pagination; plain dicts, no
      model instances), `fetch_ids(ids)`: these rows, `remaining(last_id)`: how many rows lie after it.
    - `translate(row)`: the target's document.
    - `send(documents, tombstones)`: a bulk, idempotent upsert into the target (tombstones: deletions).
    - `validate(document)`: the target's own contract check (raises the chassis' ApplicationError or a
      ValueError), run by dry runs.
    """

    name: str
    fetch_after: Callable[[int, int], Sequence[Row]]
    fetch_ids: Callable[[Iterable[int]], Sequence[Row]]
    remaining: Callable[[int], int]
    translate: Callable[[Row], Document]
    send: Callable[[list[Document], list[Document]], ImportResult]
    validate: Callable[[Document], Any] | None = None


def keyset_spec(
    *,
    name: str,
    model: type,
    fields: Sequence[str],
    translate: Callable[[Row], Document],
    send: Callable[[list[Document], list[Document]], ImportResult],
    validate: Callable[[Document], Any] | None = None,
) -> EntitySpec:
    """The spec of a Django model read by ascending primary key as `.values(*fields)` rows."""
    rows = model.objects.order_by("id").values(*fields)
    return EntitySpec(
        name=name,
        fetch_after=lambda last_id, limit: list(rows.filter(id__gt=last_id)[:limit]),
        fetch_ids=lambda ids: list(rows.filter(id__in=list(ids))),
        remaining=lambda last_id: model.objects.filter(id__gt=last_id).count(),
        translate=translate,
        send=send,
        validate=validate,
    )
