"""The catalog store port: what the Product service asks of its storage, whatever holds the documents.

Two adapters implement it (`orm.OrmCatalogStore` on PostgreSQL JSONB or SQLite JSON, and
`mongo.MongoCatalogStore`); one contract suite (tests/extracted/product_service/store/) holds both to it.
Documents in and out are the product contract's (`contracts.product`), `version`
included; the caller derives `in_stock` when it renders them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from chassis.catalog_rules import ORDERINGS
from contracts.errors import ApplicationError
from contracts.sync import ImportResult, RangeChecksum

# ORDERINGS: the v1 orderings, the monolith's too (chassis.catalog_rules); each ends with an id tiebreak.
# /api/v2 adds relevance to `q` (full text) where the adapter has a full-text index.
SEARCH_ORDERINGS = (*ORDERINGS, "relevance")

# Facets /api/v2 can ask for: these three plus `attr.<name>` for any attribute name.
FACET_CATEGORY = "category"
FACET_PRICE = "price"
FACET_IN_STOCK = "in_stock"
ATTRIBUTE_FACET_PREFIX = "attr."
# Lower bounds of the price buckets (EUR); the last bucket is open-ended.
PRICE_BUCKETS = tuple(Decimal(bound) for bound in ("0", "50", "100", "250", "500", "1000", "2500"))

_INTEGER = re.compile(r"^-?\d{1,18}$")
_DECIMAL = re.compile(r"^-?\d{1,18}\.\d{1,18}$")


@dataclass(frozen=True)
class ProductQuery:
    """One listing or search: the monolith's ProductFilters, field for field. `attributes` maps an
    attribute name to the query values any of which may match (`attr.color=black&attr.color=white`)."""

    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    attributes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    q: str | None = None
    ordering: str = "id"
    include_inactive: bool = False


def attribute_candidates(raw: str) -> list[Any]:
    """The JSON values a query-string value stands for, as the monolith's selector reads them: the
    string itself, plus the number (`16`, `2.5`) or boolean (`true`/`false`) it spells."""
    candidates: list[Any] = [raw]
    lowered = raw.lower()
    if lowered in ("true", "false"):
        candidates.append(lowered == "true")
    elif _INTEGER.match(raw):
        candidates.append(int(raw))
    elif _DECIMAL.match(raw) and math.isfinite(float(raw)):
        candidates.append(float(raw))
    return candidates


@dataclass(frozen=True)
class CursorPage:
    """One page of a /api/v2 search. `next_cursor` is None on the last page; `facets` holds the
    counts asked for, over the whole result set (not just this page):
    `{"category": [{"id", "slug", "name", "count"}], "price": [{"min", "max", "count"}],
    "in_stock": [{"value", "count"}], "attr.<name>": [{"value", "count"}]}`."""

    items: list[dict[str, Any]]
    next_cursor: str | None
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class StockLine:
    product_id: int
    quantity: int


@dataclass(frozen=True)
class ShortLine:
    """A reservation line that could not be served: `available` is 0 for an unknown or inactive
    product."""

    product_id: int
    requested: int
    available: int


@dataclass(frozen=True)
class Reservation:
    """A reservation as stored. `status` is "reserved" or "released"; `created` says whether this
    call made it (False for an idempotent replay)."""

    reference: str
    lines: tuple[StockLine, ...]
    status: str
    created: bool = False


@dataclass(frozen=True)
class StoreStats:
    products: int
    max_version: int
    last_applied_at: datetime | None


class StoreError(ApplicationError):
    """A store refusal, rendered like every application error as {"code", "message", "extra"}."""

    code = "store_error"

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None):
        super().__init__(type(self).code, message, extra=extra)


class ProductNotFound(StoreError):
    status_code = 404
    code = "product_not_found"

    def __init__(self, product_id: int):
        super().__init__(f"Product {product_id} does not exist", extra={"id": product_id})


class OutOfStock(StoreError):
    """A reservation that nothing was taken for, and every line that was short."""

    status_code = 409
    code = "out_of_stock"

    def __init__(self, lines: Sequence[ShortLine]):
        self.lines = tuple(lines)
        super().__init__(
            "Not enough stock for " + ", ".join(f"product {line.product_id}" for line in self.lines),
            extra={
                "lines": [
                    {"product_id": line.product_id, "requested": line.requested, "available": line.available}
                    for line in self.lines
                ]
            },
        )


class InsufficientStock(StoreError):
    """A stock adjustment that would make the level negative."""

    status_code = 409
    code = "insufficient_stock"


class ReservationConflict(StoreError):
    """A reference reused for different lines."""

    status_code = 409
    code = "reservation_conflict"


class InvalidQuery(StoreError):
    """A query the store cannot answer: unknown ordering, a bad or foreign cursor, relevance where
    the adapter has no full-text index, an unknown facet."""

    code = "invalid_query"


@runtime_checkable
class CatalogStore(Protocol):
    """The product catalog's storage. Every write is bulk and idempotent; every read returns contract
    documents (dicts, `version` included)."""

    #: whether `search` can order by full-text relevance (PostgreSQL, real MongoDB)
    supports_relevance: bool

    # -- writes from the import path (backfill, follow) ------------------------------------------
    def upsert_products(
        self, docs: Sequence[Mapping[str, Any]], *, preserve_stock: bool = False
    ) -> ImportResult:
        """Validate every document, then write each one whose version is greater than the stored
        one's and than its tombstone's; equal or lower versions are counted as stale. With
        preserve_stock (the service owns stock after cutover) an existing product keeps its stored
        stock level whatever the document says."""
        ...

    def delete_products(self, tombstones: Sequence[Mapping[str, Any]]) -> ImportResult:
        """Delete each product whose stored version is not above the tombstone's, and keep the
        tombstone so a stale upsert cannot bring it back."""
        ...

    def upsert_categories(self, docs: Sequence[Mapping[str, Any]]) -> ImportResult:
        """Same version rule as products. Products embed their category: a rename reaches them as
        product upserts (the monolith's trigger bumps every product of a renamed category)."""
        ...

    # -- v1 reads ---------------------------------------------------------------------------------
    def get_product(self, product_id: int, *, include_inactive: bool = False) -> dict[str, Any]:
        """One document; ProductNotFound if absent (or inactive without include_inactive)."""
        ...

    def product_id_by_sku(self, sku: str) -> int | None:
        """The id of the product with this SKU (active or not), None when there is none: the SKU check
        of the service's own creates and SKU changes (the monolith's unique SKU)."""
        ...

    def list_categories(self) -> list[dict[str, Any]]:
        """Every category document, by name then id (the monolith's category_list)."""
        ...

    def list_products(self, query: ProductQuery, *, offset: int, limit: int) -> tuple[list[dict], int]:
        """The monolith's product_list: one page of documents and the total count."""
        ...

    # -- v2 ---------------------------------------------------------------------------------------
    def search(
        self,
        query: ProductQuery,
        *,
        cursor: str | None = None,
        limit: int = 20,
        facets: Sequence[str] = (),
    ) -> CursorPage:
        """Keyset pages on (ordering key, id): a page never repeats or skips a product that stays
        put while a client walks the pages."""
        ...

    # -- stock (owned by the service from cutover on) --------------------------------------------
    def stock_adjust(self, product_id: int, delta: int, *, reference: str = "") -> int:
        """Change the level by `delta` and return the new level; InsufficientStock below zero. A
        non-empty reference applies once: a replay returns the current level unchanged."""
        ...

    def stock_reserve(self, reference: str, lines: Sequence[StockLine]) -> Reservation:
        """Take every line or none (OutOfStock lists the short lines); a replay of the reference
        returns the first reservation, a reuse for other lines is a ReservationConflict."""
        ...

    def stock_release(self, reference: str, *, fence: bool = False) -> Reservation | None:
        """Give a reservation's stock back once; None for an unknown reference. `fence`: an unknown
        reference is recorded as released (no lines), so a reserve arriving after it (a caller's request
        that outlived its timeout) takes nothing: a ReservationConflict."""
        ...

    # -- verify and sync status --------------------------------------------------------------------
    def range_checksums(self, ranges: Sequence[tuple[int, int]]) -> list[RangeChecksum]:
        """Count and range digest (contract.range_digest) of the products with lo <= id < hi."""
        ...

    def digests(self, lo: int, hi: int) -> dict[int, str]:
        """Each product's doc_digest for lo <= id < hi."""
        ...

    def stats(self) -> StoreStats: ...
