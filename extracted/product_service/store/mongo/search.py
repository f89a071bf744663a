"""The Mongo store's /api/v2 search: keyset pages on (ordering key, id), relevance from the text
index, and facet counts over the whole result set in one $facet aggregation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .. import common
from ..port import (
    FACET_CATEGORY,
    FACET_IN_STOCK,
    FACET_PRICE,
    PRICE_BUCKETS,
    CursorPage,
    ProductQuery,
)
from .base import PRICE_CEILING_CENTS, SORT_FIELDS, created_key, price_cents
from .queries import MongoQueries


class MongoSearch(MongoQueries):
    """/api/v2 search over the v1 filter (`MongoQueries._filter`)."""

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
