"""The Mongo store's stock levels: single-document `find_one_and_update` calls guarded by `$gte`; a
reservation of several lines takes them one by one and gives back what it took if a line is short (no
multi-document transaction, so it also runs on a standalone server). Its ledger entry stays `pending`,
listing the products taken so far (`taken`), until every line is in; a process killed midway leaves that
entry for an operator to release."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts.product import MAX_INT32, doc_digest

from .. import common
from ..port import (
    InsufficientStock,
    OutOfStock,
    ProductNotFound,
    Reservation,
    ShortLine,
    StockLine,
)
from .base import MongoStoreBase


class MongoStock(MongoStoreBase):
    """Stock adjustments, reservations and releases, each once per reference."""

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

    def stock_release(self, reference: str, *, fence: bool = False) -> Reservation | None:
        common.check_reference(reference)
        if fence:
            now = datetime.now(UTC)
            fenced = self.ledger.update_one(
                {"_id": reference},
                {
                    "$setOnInsert": {
                        "kind": "reservation", "lines": [], "status": "released",
                        "created_at": now, "released_at": now,
                    }
                },
                upsert=True,
            )  # fmt: skip
            if fenced.upserted_id is not None:
                return None
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
