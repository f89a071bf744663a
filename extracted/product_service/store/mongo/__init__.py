"""The MongoDB catalog store (pymongo): one document per product holding the contract document under
`doc` plus the fields filters and orderings use (price in cents, a fixed-width timestamp key), compound
indexes for every v1 ordering, a wildcard index on attributes and a text index for /api/v2 relevance.

Writes are unordered bulk upserts whose filter carries the version rule (`version < new`): an older or
equal version does not match, its upsert collides on `_id` and is counted stale. Stock changes are
single-document `find_one_and_update` calls guarded by `$gte`; a reservation of several lines takes
them one by one and gives back what it took if a line is short (no multi-document transaction, so it
also runs on a standalone server). Its ledger entry stays `pending`, listing the products taken so far
(`taken`), until every line is in; a process killed midway leaves that entry for an operator to release.

In parts along its seams: `imports`, `queries` (v1), `search` (v2), `stock`; verify and status are here.
"""

from __future__ import annotations

from collections.abc import Sequence

import pymongo

from .. import common
from ..port import RangeChecksum, StoreStats
from .base import created_key, price_cents
from .imports import MongoImports
from .search import MongoSearch
from .stock import MongoStock


class MongoCatalogStore(MongoImports, MongoSearch, MongoStock):
    """The catalog store in a MongoDB database (collections products, categories, tombstones,
    stock_ledger). Indexes are created on construction (create_index is idempotent)."""

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


__all__ = ["MongoCatalogStore", "created_key", "price_cents"]
