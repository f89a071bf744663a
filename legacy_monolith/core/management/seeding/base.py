"""What every seeding step shares: the error type, the markers that tell seeded rows apart, progress
reporting, batched bulk inserts and historical timestamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Protocol

from django.db import connection, models

# Every seeded user logs in with this password. Development data only: it is public on purpose.
DEMO_PASSWORD = "techstore-demo"

# Markers that tell seeded rows from rows users made; --reset deletes only rows that carry them.
SEED_EMAIL_DOMAIN = "seed.techstore.example"
SEED_SKU_PREFIX = "TS-"
SEED_SKU_REGEX = r"^TS-[0-9]{7}-[A-Z]{3}$"
SEED_ORDER_PREFIX = "SEED-"
SEED_REFERENCE = "seed"  # reference of the INITIAL stock movements

MAX_SEEDED_PRODUCTS = 9_999_999  # the width of the SKU's number


class SeedError(Exception):
    """The seed cannot run as asked; the message says why and what to do instead."""


class Progress(Protocol):
    """Where a seeding step reports how far it got (a rich bar, or nothing)."""

    def start(self, entity: str, total: int) -> None: ...

    def advance(self, entity: str, step: int) -> None: ...


class NullProgress:
    def start(self, entity: str, total: int) -> None:
        pass

    def advance(self, entity: str, step: int) -> None:
        pass


def sku_for(number: int, code: str) -> str:
    return f"{SEED_SKU_PREFIX}{number:07d}-{code}"


def order_number_for(number: int) -> str:
    return f"{SEED_ORDER_PREFIX}{number:08d}"


def chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bulk_insert[M: models.Model](
    model: type[M], objs: Sequence[M], *, key: str, batch_size: int, progress: Progress, entity: str
) -> list[M]:
    """bulk_create in batches, leaving each object with its primary key.

    PostgreSQL and SQLite >= 3.35 return the ids; elsewhere they are read back through the unique `key`.
    """
    created: list[M] = []
    for batch in chunks(objs, batch_size):
        rows = model.objects.bulk_create(batch, batch_size=batch_size)
        if rows and rows[0].pk is None:
            ids = dict(
                model.objects.filter(**{f"{key}__in": [getattr(o, key) for o in rows]}).values_list(key, "pk")
            )
            for row in rows:
                row.pk = ids[getattr(row, key)]
        created.extend(rows)
        progress.advance(entity, len(batch))
    return created


@contextlib.contextmanager
def explicit_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Let bulk inserts keep the historical created_at/updated_at the seed sets, instead of now().

    auto_now/auto_now_add are switched off on these models for the duration and restored afterwards;
    the seed runs single-threaded in its own command, so nothing else sees the switch.
    """
    switched = [
        (field, field.auto_now, field.auto_now_add)
        for model in model_classes
        for field in model._meta.concrete_fields
        if isinstance(field, models.DateField) and (field.auto_now or field.auto_now_add)
    ]
    for field, _, _ in switched:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in switched:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def database_vendor() -> str:
    return connection.vendor
