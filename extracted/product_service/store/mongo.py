"""The MongoDB catalog store (pymongo): one document per product holding the contract document under
`doc` plus the fields filters and orderings use (price in cents, a fixed-width timestamp key), compound
indexes for every v1 ordering, a wildcard index on attributes and a text index for /api/v2 relevance.

Writes are unordered bulk upserts whose filter carries the version rule (`version < new`): an older or
equal version does not match, its upsert collides on `_id` and is counted stale. Stock changes are
single-document `find_one_and_update` calls guarded by `$gte`; a reservation of several lines takes
them one by one and gives back what it took if a line is short (no multi-document transaction, so it
also runs on a standalone server). Its ledger entry stays `pending`, listing the products taken so far
(`taken`), until every line is in; a process killed midway leaves that entry for an operator to release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pymongo
from pymongo import DeleteOne, ReturnDocument, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts.product import MAX_INT32, doc_digest

from . import common
from .port import (
    FACET_CATEGORY,
    FACET_IN_STOCK,
    FACET_PRICE,
    PRICE_BUCKETS,
    CursorPage,
    ImportResult,
    InsufficientStock,
    OutOfStock,
    ProductNotFound,
    ProductQuery,
    RangeChecksum,
    Reservation,
    ShortLine,
    StockLine,
    StoreStats,
    attribute_candidates,
)

DUPLICATE_KEY = 11000
PRICE_CEILING_CENTS = 10**10  # above the contract's largest price, 99999999.99
SORT_FIELDS = {
    "id": "_id",
    "price": "price_cents",
    "name": "name",
    "created_at": "created_key",
    "stock": "stock",
}


def price_cents(price: Decimal | str) -> int:
    return int(Decimal(price) * 100)


def created_key(timestamp: str) -> str:
    """A contract timestamp as a fixed-width string (always 6 fraction digits) that sorts by time;
    BSON dates keep milliseconds only, which would merge distinct microseconds."""
    return datetime.fromisoformat(timestamp).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class MongoCatalogStore:
    """The catalog store in a MongoDB database (collections products, categories, tombstones,
    stock_ledger). Indexes are created on construction (create_index is idempotent)."""

    supports_relevance = True

    def __init__(self, database: Database, *, chunk_size: int = common.IMPORT_CHUNK):
        self.db = database
        self.chunk_size = chunk_size
        self.products = database["products"]
        self.categories = database["categories"]
        self.tombstones = database["tombstones"]
        self.ledger = database["stock_ledger"]
        self.ensure_indexes()

    def ensure_indexes(self) -> None:
        asc = pymongo.ASCENDING
        for field in SORT_FIELDS.values():
            if field != "_id":
                self.products.create_index([("is_active", asc), (field, asc), ("_id", asc)])
        self.products.create_index([("category_id", asc), ("is_active", asc)])
        self.products.create_index([("sku", asc)])
        self.products.create_index([("version", asc)])
        self.products.create_index([("doc.attributes.$**", asc)], name="attributes_wildcard")
        self.products.create_index(
            [("name", pymongo.TEXT), ("sku", pymongo.TEXT), ("description", pymongo.TEXT)],
            name="fulltext",
            default_language="none",
        )
        self.categories.create_index([("slug", asc)])
        self.categories.create_index([("parent_id", asc)])
        self.categories.create_index([("name", asc), ("_id", asc)])

    # -- imports ----------------------------------------------------------------------------------

    def upsert_products(
        self, docs: Sequence[Mapping[str, Any]], *, preserve_stock: bool = False
    ) -> ImportResult:
        prepared, _ = common.prepare_products(docs)
        applied = 0
        for chunk in common.chunks(prepared, self.chunk_size):
            ids = [doc["id"] for doc in chunk]
            blocked = {row["_id"]: row["version"] for row in self.tombstones.find({"_id": {"$in": ids}})}
            chunk = [doc for doc in chunk if doc["version"] > blocked.get(doc["id"], -1)]
            if preserve_stock:
                applied += self._upsert_keeping_stock(chunk)
            else:
                applied += self._bulk_upsert(self.products, [(doc, self._row(doc), None) for doc in chunk])
            revived = [doc["id"] for doc in chunk if doc["id"] in blocked]
            if revived:
                self.tombstones.delete_many({"_id": {"$in": revived}})
        return ImportResult(applied=applied, stale=len(docs) - applied)

    def _upsert_keeping_stock(self, chunk: Sequence[Mapping[str, Any]]) -> int:
        """Each existing product keeps its stored stock: the write is conditioned on that level, and
        a document whose level moved meanwhile (a reservation) is read again and retried."""
        applied, pending = 0, list(chunk)
        for _ in range(5):
            if not pending:
                break
            stored = {
                row["_id"]: (row["stock"], row["version"])
                for row in self.products.find(
                    {"_id": {"$in": [d["id"] for d in pending]}}, {"stock": 1, "version": 1}
                )
            }
            writes = []
            for doc in pending:
                if doc["id"] in stored:
                    stock, version = stored[doc["id"]]
                    if version >= doc["version"]:
                        continue
                    kept = common.with_stock(doc, stock)
                    writes.append((kept, self._row(kept), {"stock": stock}))
                else:
                    writes.append((doc, self._row(doc), None))
            applied += self._bulk_upsert(self.products, writes)
            now_stored = {
                row["_id"]: row["version"]
                for row in self.products.find({"_id": {"$in": [d["id"] for d in pending]}}, {"version": 1})
            }
            pending = [doc for doc in pending if now_stored.get(doc["id"], -1) < doc["version"]]
        return applied

    @staticmethod
    def _row(doc: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "doc": dict(doc),
            "category_id": doc["category"]["id"],
            "sku": doc["sku"],
            "name": doc["name"],
            "description": doc["description"],
            "price_cents": price_cents(doc["price"]),
            "stock": doc["stock"],
            "is_active": doc["is_active"],
            "created_key": created_key(doc["created_at"]),
            "version": doc["version"],
            "digest": doc_digest(doc),
            "applied_at": datetime.now(UTC),
        }

    @staticmethod
    def _bulk_upsert(collection, writes: Sequence[tuple[Mapping, dict, dict | None]]) -> int:
        """Unordered upserts filtered on `version < new` (and `extra` conditions); a stale one fails
        with a duplicate `_id` and is not counted. Returns how many were written.

        A duplicate `_id` can also mean another writer inserted the same new id between this filter's
        miss and its insert: the failed writes are tried once more, and now either match the stored
        document (and apply if newer) or fail again as truly stale."""
        operations = [
            UpdateOne(
                {"_id": doc["id"], "version": {"$lt": doc["version"]}, **(extra or {})},
                {"$set": row},
                upsert=True,
            )
            for doc, row, extra in writes
        ]
        written = 0
        for _ in range(2):
            if not operations:
                break
            try:
                result = collection.bulk_write(operations, ordered=False).bulk_api_result
            except BulkWriteError as exc:
                result = exc.details
                if any(error["code"] != DUPLICATE_KEY for error in result["writeErrors"]):
                    raise
            written += result["nUpserted"] + result["nModified"]
            operations = [operations[error["index"]] for error in result.get("writeErrors", [])]
        return written

    def delete_products(self, tombstones: Sequence[Mapping[str, Any]]) -> ImportResult:
        prepared, _ = common.prepare_tombstones(tombstones)
        deleted = 0
        for chunk in common.chunks(prepared, self.chunk_size):
            ids = [item["id"] for item in chunk]
            stored = {
                row["_id"]: row["version"]
                for row in self.products.find({"_id": {"$in": ids}}, {"version": 1})
            }
            kept = {row["_id"]: row["version"] for row in self.tombstones.find({"_id": {"$in": ids}})}
            due = [
                item
                for item in chunk
                if stored.get(item["id"], -1) <= item["version"]
                and kept.get(item["id"], -1) < item["version"]
            ]
            if not due:
                continue
            now = datetime.now(UTC)
            deleted += self._bulk_upsert(
                self.tombstones,
                [(item, {"version": item["version"], "deleted_at": now}, None) for item in due],
            )
            self.products.bulk_write(
                [DeleteOne({"_id": item["id"], "version": {"$lte": item["version"]}}) for item in due],
                ordered=False,
            )
        return ImportResult(deleted=deleted, stale=len(tombstones) - deleted)

    def upsert_categories(self, docs: Sequence[Mapping[str, Any]]) -> ImportResult:
        prepared, _ = common.prepare_categories(docs)
        applied = 0
        for chunk in common.chunks(prepared, self.chunk_size):
            writes = [
                (
                    doc,
                    {
                        "name": doc["name"],
                        "slug": doc["slug"],
                        "parent_id": doc["parent_id"],
                        "version": doc["version"],
                    },
                    None,
                )
                for doc in chunk
            ]
            applied += self._bulk_upsert(self.categories, writes)
        return ImportResult(applied=applied, stale=len(docs) - applied)

    # -- v1 reads ---------------------------------------------------------------------------------

    def get_product(self, product_id: int, *, include_inactive: bool = False) -> dict[str, Any]:
        condition: dict[str, Any] = {"_id": product_id}
        if not include_inactive:
            condition["is_active"] = True
        row = self.products.find_one(condition, {"doc": 1})
        if row is None:
            raise ProductNotFound(product_id)
        return row["doc"]

    def list_categories(self) -> list[dict[str, Any]]:
        return [
            {
                "id": row["_id"],
                "name": row["name"],
                "slug": row["slug"],
                "parent_id": row["parent_id"],
                "version": row["version"],
            }
            for row in self.categories.find().sort([("name", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)])
        ]

    def list_products(self, query: ProductQuery, *, offset: int, limit: int) -> tuple[list[dict], int]:
        ordering = common.check_ordering(query, search=False)
        common.check_page(offset, limit)
        condition = self._filter(query)
        total = self.products.count_documents(condition)
        if limit == 0:  # pymongo reads limit(0) as no limit at all
            return [], total
        rows = self.products.find(condition, {"doc": 1}).sort(self._sort(ordering)).skip(offset).limit(limit)
        return [row["doc"] for row in rows], total

    def _filter(self, query: ProductQuery) -> dict[str, Any]:
        """The monolith's product_list filters as one Mongo filter."""
        clauses: list[dict[str, Any]] = []
        if not query.include_inactive:
            clauses.append({"is_active": True})
        if query.category:
            parents = [row["_id"] for row in self.categories.find({"slug": query.category}, {"_id": 1})]
            children = [
                row["_id"] for row in self.categories.find({"parent_id": {"$in": parents}}, {"_id": 1})
            ]
            clauses.append({"category_id": {"$in": parents + children}})
        if query.min_price is not None:
            cents = (Decimal(str(query.min_price)) * 100).to_integral_value(rounding=ROUND_CEILING)
            clauses.append({"price_cents": {"$gte": int(cents)}})
        if query.max_price is not None:
            cents = (Decimal(str(query.max_price)) * 100).to_integral_value(rounding=ROUND_FLOOR)
            clauses.append({"price_cents": {"$lte": int(cents)}})
        if query.in_stock is True:
            clauses.append({"stock": {"$gt": 0}})
        elif query.in_stock is False:
            clauses.append({"stock": 0})
        for name, values in sorted(query.attributes.items()):
            common.check_attribute_name(name)
            candidates = [candidate for raw in values for candidate in attribute_candidates(raw)]
            if not candidates:
                continue  # like the monolith's empty Q(): no values, no condition
            clauses.append({f"doc.attributes.{name}": {"$in": candidates}})
        if query.q:
            # icontains: a case-insensitive substring, every regex metacharacter taken literally.
            pattern = {"$regex": re.escape(query.q), "$options": "i"}
            clauses.append({"$or": [{"name": pattern}, {"description": pattern}, {"sku": pattern}]})
        return {"$and": clauses} if clauses else {}

    @staticmethod
    def _sort(ordering: str) -> list[tuple[str, int]]:
        field, descending = common.order_field(ordering)
        if field == "id":
            return [("_id", pymongo.ASCENDING)]
        return [
            (SORT_FIELDS[field], pymongo.DESCENDING if descending else pymongo.ASCENDING),
            ("_id", pymongo.ASCENDING),
        ]

    # -- v2 ---------------------------------------------------------------------------------------

    def search(
        self,
        query: ProductQuery,
        *,
        cursor: str | None = None,
        limit: int = 20,
        facets: Sequence[str] = (),
    ) -> CursorPage:
        ordering, wanted_facets = common.check_search(
            query, limit, facets, supports_relevance=self.supports_relevance
        )
        condition = self._filter(query)
        if ordering == "relevance":
            # $text must open the pipeline; quoted terms make every word required, like plainto_tsquery.
            phrase = " ".join(f'"{word}"' for word in query.q.replace('"', " ").split())
            condition = {"$and": [{"$text": {"$search": phrase}}, condition]}
        facet_counts = self._facets(condition, wanted_facets) if wanted_facets else {}
        key = last_id = None
        if cursor is not None:
            key, last_id = common.decode_cursor(query, cursor)
        if ordering == "relevance":
            pipeline: list[dict[str, Any]] = [
                {"$match": condition},
                {"$addFields": {"relevance": {"$meta": "textScore"}}},
            ]
            if cursor is not None:
                pipeline.append(
                    {
                        "$match": {
                            "$or": [{"relevance": {"$lt": key}}, {"relevance": key, "_id": {"$gt": last_id}}]
                        }
                    }
                )
            pipeline += [
                {"$sort": {"relevance": -1, "_id": 1}},
                {"$limit": limit + 1},
                {"$project": {"doc": 1, "relevance": 1}},
            ]
            rows = list(self.products.aggregate(pipeline))
        else:
            if cursor is not None:
                condition = {"$and": [condition, self._after(ordering, key, last_id)]}
            rows = list(self.products.find(condition, {"doc": 1}).sort(self._sort(ordering)).limit(limit + 1))
        items = [row["doc"] for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            cursor_key = (
                last["relevance"] if ordering == "relevance" else common.sort_key(last["doc"], ordering)
            )
            next_cursor = common.encode_cursor(query, cursor_key, last["_id"])
        return CursorPage(items=items, next_cursor=next_cursor, facets=facet_counts)

    @staticmethod
    def _after(ordering: str, key: Any, last_id: int) -> dict[str, Any]:
        field, descending = common.order_field(ordering)
        if field == "id":
            return {"_id": {"$gt": last_id}}
        value = price_cents(key) if field == "price" else created_key(key) if field == "created_at" else key
        column = SORT_FIELDS[field]
        return {
            "$or": [
                {column: {"$lt" if descending else "$gt": value}},
                {column: value, "_id": {"$gt": last_id}},
            ]
        }

    def _facets(self, condition: Mapping[str, Any], facets: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """One aggregation: a $facet branch per facet asked for."""
        boundaries = [price_cents(bound) for bound in PRICE_BUCKETS] + [PRICE_CEILING_CENTS]
        branches: dict[str, list[dict[str, Any]]] = {}
        for index, facet in enumerate(facets):
            if facet == FACET_CATEGORY:
                branch = [{"$group": {"_id": "$category_id", "n": {"$sum": 1}}}]
            elif facet == FACET_PRICE:
                branch = [
                    {
                        "$bucket": {
                            "groupBy": "$price_cents",
                            "boundaries": boundaries,
                            "output": {"n": {"$sum": 1}},
                        }
                    }
                ]
            elif facet == FACET_IN_STOCK:
                branch = [{"$group": {"_id": {"$gt": ["$stock", 0]}, "n": {"$sum": 1}}}]
            else:
                path = f"doc.attributes.{facet.split('.', 1)[1]}"
                branch = [
                    {"$match": {path: {"$exists": True}}},
                    {"$group": {"_id": f"${path}", "n": {"$sum": 1}}},
                ]
            branches[f"f{index}"] = branch
        (groups,) = self.products.aggregate([{"$match": condition}, {"$facet": branches}])
        result: dict[str, list[dict[str, Any]]] = {}
        for index, facet in enumerate(facets):
            counts = [(row["_id"], row["n"]) for row in groups[f"f{index}"]]
            if facet == FACET_CATEGORY:
                ids = [category_id for category_id, _ in counts]
                categories = {row["_id"]: row for row in self.categories.find({"_id": {"$in": ids}})}
                result[facet] = common.category_facet(dict(counts), categories)
            elif facet == FACET_PRICE:
                result[facet] = common.price_facet({boundaries.index(bound): n for bound, n in counts})
            elif facet == FACET_IN_STOCK:
                by_value = dict(counts)
                result[facet] = common.in_stock_facet(by_value.get(True, 0), by_value.get(False, 0))
            else:
                result[facet] = common.attribute_facet(counts)
        return result

    # -- stock ------------------------------------------------------------------------------------

    def _refresh_digest(self, row: Mapping[str, Any]) -> None:
        """Store the digest of the document as this change left it, unless a later change already
        moved the stock or the version (that change stores its own)."""
        self.products.update_one(
            {"_id": row["_id"], "stock": row["stock"], "version": row["version"]},
            {"$set": {"digest": doc_digest(row["doc"])}},
        )

    def _take(self, product_id: int, delta: int, *, active_only: bool) -> dict | None:
        """Add `delta` to one product's stock if the result stays within 0..MAX_INT32."""
        condition: dict[str, Any] = {"_id": product_id}
        condition["stock"] = {"$gte": -delta} if delta < 0 else {"$lte": MAX_INT32 - delta}
        if active_only:
            condition["is_active"] = True
        row = self.products.find_one_and_update(
            condition,
            {"$inc": {"stock": delta, "doc.stock": delta}},
            projection={"doc": 1, "stock": 1, "version": 1},
            return_document=ReturnDocument.AFTER,
        )
        if row is not None:
            self._refresh_digest(row)
        return row

    def _claim(self, reference: str, kind: str, lines: list[dict], status: str) -> dict | None:
        try:
            self.ledger.insert_one(
                {
                    "_id": reference,
                    "kind": kind,
                    "lines": lines,
                    "status": status,
                    "created_at": datetime.now(UTC),
                }
            )
            return None
        except DuplicateKeyError:
            existing = self.ledger.find_one({"_id": reference})
            common.check_replay(reference, (existing["kind"], existing["lines"]), (kind, lines))
            return existing

    def stock_adjust(self, product_id: int, delta: int, *, reference: str = "") -> int:
        common.check_delta(delta)
        if reference:
            common.check_reference(reference)
        if reference:
            lines = [{"product_id": product_id, "quantity": delta}]
            if self._claim(reference, "adjustment", lines, "applied") is not None:
                row = self.products.find_one({"_id": product_id}, {"stock": 1})
                if row is None:
                    raise ProductNotFound(product_id)
                return row["stock"]
        row = self._take(product_id, delta, active_only=False)
        if row is None:
            if reference:
                self.ledger.delete_one({"_id": reference})
            current = self.products.find_one({"_id": product_id}, {"stock": 1})
            if current is None:
                raise ProductNotFound(product_id)
            raise InsufficientStock(
                f"Stock of product {product_id} is {current['stock']}; a change of {delta} is out of range",
                extra={"product_id": product_id, "stock": current["stock"], "delta": delta},
            )
        return row["stock"]

    def stock_reserve(self, reference: str, lines: Sequence[StockLine]) -> Reservation:
        common.check_reference(reference)
        merged = common.merge_lines(lines)
        wanted = common.lines_json(merged)
        existing = self._claim(reference, "reservation", wanted, "pending")
        if existing is not None:
            return Reservation(reference, common.lines_from_json(existing["lines"]), existing["status"])
        taken: list[tuple[int, int]] = []
        for product_id, quantity in merged.items():
            if self._take(product_id, -quantity, active_only=True) is None:
                for taken_id, taken_quantity in taken:
                    self._take(taken_id, taken_quantity, active_only=False)
                self.ledger.delete_one({"_id": reference})
                raise OutOfStock(self._short_lines(merged, failed=product_id))
            taken.append((product_id, quantity))
            # What this reservation holds so far, so a crash midway can be released.
            self.ledger.update_one({"_id": reference}, {"$push": {"taken": product_id}})
        self.ledger.update_one({"_id": reference}, {"$set": {"status": "reserved"}})
        return Reservation(reference, common.lines_from_json(wanted), "reserved", created=True)

    def _short_lines(self, merged: Mapping[int, int], *, failed: int) -> list[ShortLine]:
        rows = {
            row["_id"]: row
            for row in self.products.find({"_id": {"$in": list(merged)}}, {"stock": 1, "is_active": 1})
        }
        available = {
            pid: (rows[pid]["stock"] if rows[pid]["is_active"] else 0) if pid in rows else 0 for pid in merged
        }
        short = [
            ShortLine(pid, quantity, available[pid])
            for pid, quantity in merged.items()
            if available[pid] < quantity
        ]
        # A concurrent release may have refilled the line that failed; it was short when it was taken.
        return short or [ShortLine(failed, merged[failed], available[failed])]

    def stock_release(self, reference: str) -> Reservation | None:
        common.check_reference(reference)
        entry = self.ledger.find_one_and_update(
            {"_id": reference, "kind": "reservation", "status": "reserved"},
            {"$set": {"status": "released", "released_at": datetime.now(UTC)}},
        )
        if entry is None:
            existing = self.ledger.find_one({"_id": reference, "kind": "reservation"})
            if existing is None:
                return None
            return Reservation(reference, common.lines_from_json(existing["lines"]), existing["status"])
        lines = common.lines_from_json(entry["lines"])
        for line in lines:
            self._take(line.product_id, line.quantity, active_only=False)
        return Reservation(reference, lines, "released", created=True)

    # -- verify and status ------------------------------------------------------------------------

    def _digest_rows(self, lo: int, hi: int):
        return self.products.find({"_id": {"$gte": lo, "$lt": hi}}, {"digest": 1}).sort(
            "_id", pymongo.ASCENDING
        )

    def range_checksums(self, ranges: Sequence[tuple[int, int]]) -> list[RangeChecksum]:
        return [
            common.range_checksum(lo, hi, ((row["_id"], row["digest"]) for row in self._digest_rows(lo, hi)))
            for lo, hi in ranges
        ]

    def digests(self, lo: int, hi: int) -> dict[int, str]:
        return {row["_id"]: row["digest"] for row in self._digest_rows(lo, hi)}

    def stats(self) -> StoreStats:
        count = self.products.count_documents({})
        newest = self.products.find_one({}, {"version": 1}, sort=[("version", pymongo.DESCENDING)])
        latest = self.products.find_one({}, {"applied_at": 1}, sort=[("applied_at", pymongo.DESCENDING)])
        return StoreStats(count, newest["version"] if newest else 0, latest["applied_at"] if latest else None)
