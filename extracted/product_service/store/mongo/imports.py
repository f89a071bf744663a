"""The Mongo store's import path: unordered bulk upserts whose filter carries the version rule
(`version < new`); an older or equal version does not match, its upsert collides on `_id` and is counted
stale. Tombstones keep a deleted product from coming back with a stale upsert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import DeleteOne, UpdateOne
from pymongo.errors import BulkWriteError

from contracts.product import doc_digest

from .. import common
from ..port import (
    ImportResult,
)
from .base import DUPLICATE_KEY, MongoStoreBase, created_key, price_cents


class MongoImports(MongoStoreBase):
    """The import path's writes: products, tombstones and categories."""

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
