"""Catalog writes: imports from the monolith (backfill, follow), stock changes. Each goes to the store, then
invalidates the cache once the store has committed. Reservations and releases publish `stock.reserved` /
`stock.released` through the chassis outbox, in the store's transaction on the ORM store (on MongoDB the
outbox row commits right after the store write: a crash in between loses that event)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import transaction

from chassis.outbox.writer import outbox_write
from extracted.product_service.cache import read_cache
from extracted.product_service.selectors import catalog_store
from extracted.product_service.store.port import ImportResult, Reservation, StockLine


def _invalidate_after_commit(versions: Mapping[int, int | str]) -> None:
    cache = read_cache()
    transaction.on_commit(lambda: cache.invalidate(versions.items()))


def stock_owned_by_service() -> bool:
    return settings.PRODUCT_STOCK_OWNER == "service"


def products_import(
    *, products: Sequence[Mapping[str, Any]], deleted: Sequence[Mapping[str, Any]] = ()
) -> ImportResult:
    """Bulk upsert with the version rule, then tombstones. Once the service owns stock, an upsert keeps
    the stock level the service holds (the monolith's number is stale from cutover on)."""
    store = catalog_store()
    result = ImportResult()
    if products:
        result += store.upsert_products(products, preserve_stock=stock_owned_by_service())
    if deleted:
        result += store.delete_products(deleted)
    touched = {doc["id"]: doc["version"] for doc in products}
    touched.update({doc["id"]: doc["version"] for doc in deleted})
    _invalidate_after_commit(touched)
    return result


def categories_import(*, categories: Sequence[Mapping[str, Any]]) -> ImportResult:
    result = catalog_store().upsert_categories(categories)
    _invalidate_after_commit({})  # listings embed categories: a new generation
    return result


def stock_adjust(*, product_id: int, delta: int, reference: str = "") -> int:
    level = catalog_store().stock_adjust(product_id, delta, reference=reference)
    _invalidate_after_commit({product_id: "stock"})
    return level


def _reservation_event(reservation: Reservation) -> dict:
    return {
        "reference": reservation.reference,
        "lines": [{"product_id": line.product_id, "quantity": line.quantity} for line in reservation.lines],
    }


def stock_reserve(*, reference: str, lines: Sequence[StockLine]) -> Reservation:
    """All lines or none; a new reservation publishes `stock.reserved` (outbox, same transaction)."""
    with transaction.atomic():
        reservation = catalog_store().stock_reserve(reference, lines)
        if reservation.created:
            outbox_write("stock.reserved", _reservation_event(reservation))
            _invalidate_after_commit({line.product_id: "stock" for line in reservation.lines})
    return reservation


def stock_release(*, reference: str, fence: bool = False) -> Reservation | None:
    """Give a reservation back once; the release publishes `stock.released` (outbox, same transaction).
    `fence`: an unknown reference is recorded released, so a late reserve under it takes nothing."""
    with transaction.atomic():
        reservation = catalog_store().stock_release(reference, fence=fence)
        if reservation is not None and reservation.created:
            outbox_write("stock.released", _reservation_event(reservation))
            _invalidate_after_commit({line.product_id: "stock" for line in reservation.lines})
    return reservation
