"""Catalog reads: the store behind the cache-aside. Views call these; they return rendered JSON bytes
(listing pages) or documents (one product)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from contracts.errors import NotFoundError
from contracts.product import MAX_ID
from extracted.product_service.cache import read_cache
from extracted.product_service.store import CatalogStore, store_from_settings
from extracted.product_service.store.port import ProductNotFound

_store: CatalogStore | None = None


def catalog_store() -> CatalogStore:
    """The process's store (CATALOG_STORE_URL), built on first use (a race builds two; one is kept)."""
    global _store
    if _store is None:
        _store = store_from_settings()
    return _store


def product_document(*, product_id: int, include_inactive: bool = False) -> dict:
    """One product document (cached, inactive ones included, then filtered); 404 product_not_found."""
    if not 0 < product_id <= MAX_ID:
        raise NotFoundError("product", product_id)
    raw = read_cache().product(
        product_id,
        lambda: orjson.dumps(catalog_store().get_product(product_id, include_inactive=True)),
    )
    doc = orjson.loads(raw)
    if not doc["is_active"] and not include_inactive:
        raise NotFoundError("product", product_id)
    return doc


def cached_listing(namespace: str, request_key: str, render: Callable[[], dict]) -> bytes:
    """A listing or search page as JSON bytes, cached per listing generation under `request_key`."""
    return read_cache().listing(namespace, request_key, lambda: orjson.dumps(render()))


@dataclass(frozen=True)
class StockLevel:
    product_id: int
    found: bool
    active: bool = False
    stock: int = 0


def stock_levels(*, product_ids: Sequence[int]) -> list[StockLevel]:
    """The stock level of each product as the store holds it now (never cached: the saga reads it), in the
    order asked; an unknown product is `found=False`."""
    store, levels = catalog_store(), []
    for product_id in product_ids:
        try:
            doc = store.get_product(product_id, include_inactive=True)
        except ProductNotFound:
            levels.append(StockLevel(product_id, found=False))
            continue
        levels.append(StockLevel(product_id, found=True, active=doc["is_active"], stock=doc["stock"]))
    return levels
