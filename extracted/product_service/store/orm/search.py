"""The ORM store's /api/v2 search: keyset pages on (ordering key, id), relevance from the PostgreSQL
full-text index, and facet counts over the whole result set."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform
from django.utils.dateparse import parse_datetime

from ...models import CatalogCategory, CatalogProduct
from .. import common
from ..port import (
    FACET_CATEGORY,
    FACET_IN_STOCK,
    FACET_PRICE,
    PRICE_BUCKETS,
    CursorPage,
    ProductQuery,
)
from .base import MATCH_SQL, RANK_SQL
from .queries import OrmQueries


class OrmSearch(OrmQueries):
    """/api/v2 search over the v1 filters (`OrmQueries._filtered`)."""

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
        queryset = self._searched(query, ordering)
        facet_counts = self._facets(queryset, wanted_facets)
        field, descending = common.order_field("-relevance" if ordering == "relevance" else ordering)
        if cursor is not None:
            key, last_id = common.decode_cursor(query, cursor)
            queryset = queryset.filter(self._after(field, descending, key, last_id))
        queryset = queryset.order_by(*([F(field).desc(), "id"] if descending else [field, "id"]))
        fields = ["doc", "relevance"] if ordering == "relevance" else ["doc"]
        rows = list(queryset.values_list(*fields)[: limit + 1])
        items = [row[0] for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            key = last[1] if ordering == "relevance" else common.sort_key(last[0], ordering)
            next_cursor = common.encode_cursor(query, key, last[0]["id"])
        return CursorPage(items=items, next_cursor=next_cursor, facets=facet_counts)

    def _searched(self, query: ProductQuery, ordering: str) -> QuerySet[CatalogProduct]:
        """The v1 filters; ordered by relevance, also a full-text match of every word of q (served by
        the GIN index on TSVECTOR_SQL) with its rank as `relevance`."""
        queryset = self._filtered(query)
        if ordering == "relevance":
            queryset = queryset.filter(RawSQL(MATCH_SQL, [query.q], output_field=BooleanField()))  # noqa: S611
            queryset = queryset.annotate(relevance=RawSQL(RANK_SQL, [query.q], output_field=FloatField()))  # noqa: S611
        return queryset

    @staticmethod
    def _after(field: str, descending: bool, key: Any, last_id: int) -> Q:
        """Rows after (key, last_id) in the order (key asc|desc, id asc)."""
        if field == "id":
            return Q(id__gt=last_id)
        value: Any = key
        if field == "price":
            value = Decimal(key)
        elif field == "created_at":
            value = parse_datetime(key)
        if field == "relevance":
            return Q(relevance__lt=value) | Q(relevance=value, id__gt=last_id)
        beyond = f"{field}__lt" if descending else f"{field}__gt"
        return Q(**{beyond: value}) | Q(**{field: value, "id__gt": last_id})

    def _facets(self, queryset: QuerySet, facets: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        result: dict[str, list[dict[str, Any]]] = {}
        queryset = queryset.order_by()
        for facet in facets:
            if facet == FACET_CATEGORY:
                counts = dict(
                    queryset.values_list("category_id")
                    .annotate(n=Count("id"))
                    .values_list("category_id", "n")
                )
                categories = {
                    row["id"]: row
                    for row in CatalogCategory.objects.using(self.using)
                    .filter(id__in=counts)
                    .values("id", "slug", "name")
                }
                result[facet] = common.category_facet(counts, categories)
            elif facet == FACET_PRICE:
                bounds = [*PRICE_BUCKETS, None]
                aggregates = {
                    f"b{index}": Count(
                        "id",
                        filter=Q(price__gte=bounds[index])
                        & (Q() if bounds[index + 1] is None else Q(price__lt=bounds[index + 1])),
                    )
                    for index in range(len(PRICE_BUCKETS))
                }
                counts = queryset.aggregate(**aggregates)
                result[facet] = common.price_facet({int(name[1:]): count for name, count in counts.items()})
            elif facet == FACET_IN_STOCK:
                counts = queryset.aggregate(
                    yes=Count("id", filter=Q(stock__gt=0)), no=Count("id", filter=Q(stock=0))
                )
                result[facet] = common.in_stock_facet(counts["yes"], counts["no"])
            else:
                values = self._attribute_counts(queryset, facet.split(".", 1)[1])
                result[facet] = common.attribute_facet(values)
        return result

    def _attribute_counts(self, queryset: QuerySet, name: str) -> list[tuple[Any, int]]:
        """(value, count) of one attribute over the result set, a number and its string kept apart.
        PostgreSQL groups the jsonb values themselves; SQLite's JSON_EXTRACT gives 16 for both 16 and
        "16", so there the JSON_TYPE goes into the group and turns the value back into its JSON type."""
        if self._vendor == "postgresql":
            return list(
                queryset.annotate(facet_value=KeyTransform(name, "attributes"))
                .filter(facet_value__isnull=False)
                .values_list("facet_value")
                .annotate(n=Count("id"))
                .values_list("facet_value", "n")
            )
        path = Value(f'$."{name}"')
        rows = (
            queryset.annotate(
                facet_type=Func(F("attributes"), path, function="JSON_TYPE", output_field=CharField()),
                facet_value=Func(F("attributes"), path, function="JSON_EXTRACT", output_field=CharField()),
            )
            .filter(facet_type__isnull=False)
            .values_list("facet_type", "facet_value")
            .annotate(n=Count("id"))
            .values_list("facet_type", "facet_value", "n")
        )
        typed = {"true": lambda _: True, "false": lambda _: False, "integer": int, "real": float, "text": str}
        return [(typed[kind](value), n) for kind, value, n in rows if kind in typed]
