"""What every catalog store adapter does the same way: batch preparation under the version rule,
keyset cursors, facet shapes and stock-line checks. Pure functions, no storage."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from hashlib import blake2b
from typing import Any

import orjson

from contracts.errors import ApplicationError
from contracts.product import (
    ATTRIBUTE_KEY_PATTERN,
    PRICE_PATTERN,
    TIMESTAMP_PATTERN,
    range_digest,
    validate_category,
    validate_many,
    validate_product,
    validate_tombstone,
)

from .port import (
    ATTRIBUTE_FACET_PREFIX,
    FACET_CATEGORY,
    FACET_IN_STOCK,
    FACET_PRICE,
    ORDERINGS,
    PRICE_BUCKETS,
    SEARCH_ORDERINGS,
    InvalidQuery,
    ProductQuery,
    RangeChecksum,
    ReservationConflict,
    StockLine,
)

IMPORT_CHUNK = 1000
MAX_REFERENCE_LENGTH = 100  # StockLedgerEntry.reference


def newest_per_id(docs: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """One document per id, the highest version (a batch may carry an id twice; the others are stale),
    in ascending id order: writers then lock rows in the order stock operations do, never the reverse."""
    newest: dict[int, Mapping[str, Any]] = {}
    for doc in docs:
        kept = newest.get(doc["id"])
        if kept is None or doc["version"] > kept["version"]:
            newest[doc["id"]] = doc
    return [newest[doc_id] for doc_id in sorted(newest)], len(docs) - len(newest)


def prepare_products(docs: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    return newest_per_id(validate_many(docs, validate_product, "products"))


def prepare_categories(docs: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    return newest_per_id(validate_many(docs, validate_category, "categories"))


def prepare_tombstones(docs: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    return newest_per_id(validate_many(docs, validate_tombstone, "deleted"))


def chunks(items: Sequence, size: int = IMPORT_CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_attribute_name(name: str) -> str:
    """Attribute names as the contract allows them (a letter, then letters, digits, '_' or '-'), so a
    name never reads as a lookup, a JSON path or a Mongo operator."""
    if not isinstance(name, str) or not ATTRIBUTE_KEY_PATTERN.match(name):
        raise InvalidQuery(f"Invalid attribute name {str(name)[:64]!r}", extra={"attribute": str(name)[:64]})
    return name


def check_ordering(query: ProductQuery, *, search: bool, supports_relevance: bool = False) -> str:
    allowed = SEARCH_ORDERINGS if search else ORDERINGS
    if query.ordering not in allowed:
        raise InvalidQuery(f"Unknown ordering {query.ordering!r}", extra={"allowed": list(allowed)})
    if query.ordering == "relevance":
        if not supports_relevance:
            raise InvalidQuery("This catalog store has no full-text index to order by relevance")
        if not query.q:
            raise InvalidQuery("Ordering by relevance needs q")
    return query.ordering


def check_search(
    query: ProductQuery, limit: int, facets: Sequence[str], *, supports_relevance: bool
) -> tuple[str, list[str]]:
    """What every adapter's `search` checks first: the ordering, the page size and the facets asked
    for. Returns the ordering and the facets, each once."""
    ordering = check_ordering(query, search=True, supports_relevance=supports_relevance)
    check_page(0, limit)
    return ordering, parse_facets(facets)


def order_field(ordering: str) -> tuple[str, bool]:
    """`-price` -> ("price", True): the key and whether it descends (the id tiebreak always ascends)."""
    return ordering.lstrip("-"), ordering.startswith("-")


# -- keyset cursors ---------------------------------------------------------------------------------


def query_fingerprint(query: ProductQuery) -> str:
    """Which query a cursor belongs to: a cursor is refused with any other filters or ordering."""
    shape = [
        query.category,
        None if query.min_price is None else str(query.min_price),
        None if query.max_price is None else str(query.max_price),
        query.in_stock,
        sorted((name, list(values)) for name, values in query.attributes.items()),
        query.q,
        query.ordering,
        query.include_inactive,
    ]
    return blake2b(orjson.dumps(shape), digest_size=8).hexdigest()


def encode_cursor(query: ProductQuery, key: Any, last_id: int) -> str:
    payload = orjson.dumps({"f": query_fingerprint(query), "k": key, "i": last_id})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(query: ProductQuery, cursor: str) -> tuple[Any, int]:
    """The (sort key, id) the previous page ended on; InvalidQuery for a malformed or foreign cursor."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        fingerprint, key, last_id = payload["f"], payload["k"], payload["i"]
    except (binascii.Error, ValueError, TypeError, KeyError) as exc:
        raise InvalidQuery(
            "The cursor is not one this service issued", extra={"cursor": cursor[:100]}
        ) from exc
    if fingerprint != query_fingerprint(query):
        raise InvalidQuery("The cursor belongs to another query", extra={"cursor": cursor[:100]})
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not _is_key(query.ordering, key):
        raise InvalidQuery("The cursor is not one this service issued", extra={"cursor": cursor[:100]})
    return key, last_id


def _is_key(ordering: str, key: Any) -> bool:
    """Whether `key` has the shape a cursor of this ordering carries (see sort_key)."""
    name, _ = order_field(ordering)
    if name == "id":
        return key is None
    if name == "price":
        return isinstance(key, str) and PRICE_PATTERN.match(key) is not None
    if name == "created_at":
        return isinstance(key, str) and TIMESTAMP_PATTERN.match(key) is not None
    if name == "stock":
        return isinstance(key, int) and not isinstance(key, bool)
    if name == "relevance":
        return isinstance(key, int | float) and not isinstance(key, bool)
    return isinstance(key, str)


def sort_key(doc: Mapping[str, Any], ordering: str) -> Any:
    """The cursor key of a document: its contract value for the ordering (None for `id`)."""
    name, _ = order_field(ordering)
    return None if name == "id" else doc[name]


def range_checksum(lo: int, hi: int, pairs: Iterable[tuple[int, str]]) -> RangeChecksum:
    """Count and digest of a range from its streamed `(id, digest)` pairs (a million-row range never
    sits in memory)."""
    count = 0

    def counted() -> Iterable[tuple[int, str]]:
        nonlocal count
        for pair in pairs:
            count += 1
            yield pair

    digest = range_digest(counted())
    return RangeChecksum(lo, hi, count, digest)


# -- facets -------------------------------------------------------------------------------------------


def parse_facets(facets: Sequence[str]) -> list[str]:
    parsed = []
    for facet in facets:
        attribute = facet[len(ATTRIBUTE_FACET_PREFIX) :] if facet.startswith(ATTRIBUTE_FACET_PREFIX) else None
        if facet not in (FACET_CATEGORY, FACET_PRICE, FACET_IN_STOCK) and not (
            attribute and ATTRIBUTE_KEY_PATTERN.match(attribute)
        ):
            raise InvalidQuery(
                f"Unknown facet {facet!r}",
                extra={"allowed": ["category", "price", "in_stock", "attr.<name>"]},
            )
        if facet not in parsed:
            parsed.append(facet)
    return parsed


def price_bucket(price: Decimal) -> int:
    """Index of the bucket a price falls in: the last bound not above it."""
    index = 0
    for position, bound in enumerate(PRICE_BUCKETS):
        if price >= bound:
            index = position
    return index


def price_facet(counts: Mapping[int, int]) -> list[dict[str, Any]]:
    """Every bucket in order, empty ones included: `{"min": "50.00", "max": "100.00", "count"}`; the
    last one has `"max": None`. A bucket holds min <= price < max."""
    buckets = []
    for index, bound in enumerate(PRICE_BUCKETS):
        upper = PRICE_BUCKETS[index + 1] if index + 1 < len(PRICE_BUCKETS) else None
        buckets.append(
            {
                "min": f"{bound:.2f}",
                "max": None if upper is None else f"{upper:.2f}",
                "count": counts.get(index, 0),
            }
        )
    return buckets


def in_stock_facet(in_stock: int, out_of_stock: int) -> list[dict[str, Any]]:
    return [{"value": True, "count": in_stock}, {"value": False, "count": out_of_stock}]


def category_facet(counts: Mapping[int, int], categories: Mapping[int, Mapping[str, Any]]) -> list[dict]:
    """Most products first, then by id; a category the store has no document for shows id only."""
    rows = []
    for category_id, count in counts.items():
        category = categories.get(category_id, {})
        rows.append(
            {"id": category_id, "slug": category.get("slug"), "name": category.get("name"), "count": count}
        )
    return sorted(rows, key=lambda row: (-row["count"], row["id"]))


def _json_type_rank(value: Any) -> int:
    return 0 if isinstance(value, bool) else 1 if isinstance(value, int | float) else 2


def attribute_facet(counts: Iterable[tuple[Any, int]]) -> list[dict[str, Any]]:
    """Values by count, then booleans, numbers, strings in their natural order. Equal JSON values
    (16 and 16.0) are one value."""
    merged: dict[tuple[int, Any], list] = {}
    for value, count in counts:
        key = (_json_type_rank(value), value)
        if key in merged:
            merged[key][1] += count
        else:
            merged[key] = [value, count]
    rows = sorted(merged.items(), key=lambda item: (-item[1][1], item[0][0], item[0][1]))
    return [{"value": value, "count": count} for _, (value, count) in rows]


# -- stock ------------------------------------------------------------------------------------------


def merge_lines(lines: Sequence[StockLine]) -> dict[int, int]:
    """Quantities summed per product id (ascending ids, the lock order); positive integers only."""
    merged: dict[int, int] = {}
    if not lines:
        raise ApplicationError("invalid_quantity", "A reservation needs at least one line")
    for line in lines:
        quantity = line.quantity
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ApplicationError(
                "invalid_quantity",
                "Stock quantities must be positive integers",
                extra={"product_id": line.product_id, "quantity": quantity},
            )
        merged[line.product_id] = merged.get(line.product_id, 0) + quantity
    return dict(sorted(merged.items()))


def lines_json(merged: Mapping[int, int]) -> list[dict[str, int]]:
    return [{"product_id": product_id, "quantity": quantity} for product_id, quantity in merged.items()]


def lines_from_json(raw: Sequence[Mapping[str, int]]) -> tuple[StockLine, ...]:
    return tuple(StockLine(line["product_id"], line["quantity"]) for line in raw)


def check_page(offset: int, limit: int) -> None:
    for name, value in (("offset", offset), ("limit", limit)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidQuery(f"{name} must be a non-negative integer", extra={name: value})


def check_reference(reference: Any) -> str:
    """A stock reference: what makes a reservation or an adjustment idempotent (an order id, an
    event id), 1 to MAX_REFERENCE_LENGTH characters."""
    if (
        not isinstance(reference, str)
        or not 0 < len(reference) <= MAX_REFERENCE_LENGTH
        or "\x00" in reference
    ):
        raise ApplicationError(
            "invalid_reference",
            f"A stock reference is 1 to {MAX_REFERENCE_LENGTH} characters",
            extra={"reference": str(reference)[:MAX_REFERENCE_LENGTH]},
        )
    return reference


def check_replay(reference: str, recorded: tuple[str, list], replayed: tuple[str, list]) -> None:
    """A reference already in the stock ledger may come again only for the same operation: the same
    kind and the same lines; anything else is a ReservationConflict."""
    if recorded != replayed:
        raise ReservationConflict(
            f"Reference {reference!r} was used for other stock lines",
            extra={"reference": reference, "lines": recorded[1]},
        )


def check_delta(delta: Any) -> int:
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise ApplicationError(
            "invalid_delta", "A stock adjustment needs a non-zero integer delta", extra={"delta": delta}
        )
    return delta


def with_stock(doc: Mapping[str, Any], stock: int) -> dict[str, Any]:
    return {**doc, "stock": stock}
