"""The Mongo store's v1 reads: the monolith's product_list filters as one Mongo filter (icontains as
an escaped case-insensitive regex), orderings on the compound indexes."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import pymongo

from .. import common
from ..port import (
    ProductNotFound,
    ProductQuery,
    attribute_candidates,
)
from .base import SORT_FIELDS, MongoStoreBase


class MongoQueries(MongoStoreBase):
    """The v1 reads: one product, the categories, a listing page and its total."""

    def get_product(self, product_id: int, *, include_inactive: bool = False) -> dict[str, Any]:
        condition: dict[str, Any] = {"_id": product_id}
        if not include_inactive:
            condition["is_active"] = True
        row = self.products.find_one(condition, {"doc": 1})
        if row is None:
            raise ProductNotFound(product_id)
        return row["doc"]

    def product_id_by_sku(self, sku: str) -> int | None:
        row = self.products.find_one({"sku": sku}, {"_id": 1}, sort=[("_id", 1)])
        return None if row is None else row["_id"]

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
