"""The ORM store's v1 reads: Django querysets written like the monolith's selector
(legacy_monolith/catalog/selectors.py), so filters, icontains and orderings mean exactly what they mean
there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import (
    Count,
    Q,
    QuerySet,
    Window,
)
from django.db.models.fields.json import KeyTransform

from ...models import CatalogCategory, CatalogProduct
from .. import common
from ..port import (
    ProductNotFound,
    ProductQuery,
    attribute_candidates,
)
from . import text_search
from .base import OrmStoreBase


class OrmQueries(OrmStoreBase):
    """The v1 reads: one product, the categories, a listing page and its total."""

    def get_product(self, product_id: int, *, include_inactive: bool = False) -> dict[str, Any]:
        queryset = self._products().filter(id=product_id)
        if not include_inactive:
            queryset = queryset.filter(is_active=True)
        doc = queryset.values_list("doc", flat=True).first()
        if doc is None:
            raise ProductNotFound(product_id)
        return doc

    def product_id_by_sku(self, sku: str) -> int | None:
        return self._products().filter(sku=sku).order_by("id").values_list("id", flat=True).first()

    def list_categories(self) -> list[dict[str, Any]]:
        return list(
            CatalogCategory.objects.using(self.using)
            .order_by("name", "id")
            .values("id", "name", "slug", "parent_id", "version")
        )

    def list_products(self, query: ProductQuery, *, offset: int, limit: int) -> tuple[list[dict], int]:
        """One page and the total of all matches (the v1 contract's `count`).

        A filtered listing reads its matches once: the page and `COUNT(*) OVER ()` come from one pass
        over them (whatever index finds them), instead of a COUNT and then the page, each finding them
        again. An unfiltered listing (active products only) counts from an index and takes the page's
        ids in index order; counting in the same pass would read every row. Either way the documents are
        fetched for the page's ids only, so deep offsets skip index entries, not whole rows."""
        ordering = common.check_ordering(query, search=False)
        common.check_page(offset, limit)
        if ordering == "id" and text_search.only_q(query) and text_search.usable(self._vendor, query.q):
            return self._search_page(query, offset, limit)
        queryset = self._filtered(query)
        if limit == 0:
            return [], queryset.count()
        narrowed = narrows(query)
        try:
            rows = self._page(queryset, ordering, offset, limit, with_total=narrowed)
        except EmptyResultSet:  # a filter nothing can match (an unknown category)
            return [], 0
        docs = [orjson.loads(doc) if isinstance(doc, str | bytes) else doc for doc, _ in rows]
        if narrowed and rows:
            return docs, rows[0][1]
        # An empty page past the end carries no total: count the matches alone.
        return docs, queryset.count()

    def _search_page(self, query: ProductQuery, offset: int, limit: int) -> tuple[list[dict], int]:
        """A q-only listing in id order from the narrow search relation (text_search.py)."""
        ids, total = text_search.page_ids(self.using, query, offset, limit)
        if not ids:
            return [], total
        docs = dict(self._products().filter(id__in=ids).values_list("id", "doc"))
        return [docs[product_id] for product_id in ids if product_id in docs], total

    def _page(
        self, queryset: QuerySet, ordering: str, offset: int, limit: int, *, with_total: bool
    ) -> list[tuple[Any, int | None]]:
        """`(doc, total)` rows of one page in the v1 order (key, then id). The matches are a subquery
        that, carrying a window function, PostgreSQL plans on its own for all its rows (the cheapest
        way to find them, e.g. a bitmap of the trigram or GIN indexes) rather than as an id-ordered
        walk that the outer LIMIT would wrongly suggest; only the page's rows are then joined to their
        documents."""
        field, descending = common.order_field(ordering)
        connection = connections[self.using]
        quote = connection.ops.quote_name
        keys = ["id"] if field == "id" else ["id", field]
        if with_total:
            matches = queryset.order_by().annotate(total=Window(Count("*"))).values_list(*keys, "total")
        else:
            matches = queryset.order_by().values_list(*keys)
        inner, params = matches.query.get_compiler(using=self.using).as_sql()
        direction = " DESC" if descending else ""
        order = f"{quote(field)}{direction}, {quote('id')}" if field != "id" else quote("id")
        outer_order = (
            f"page.{quote(field)}{direction}, page.{quote('id')}" if field != "id" else f"page.{quote('id')}"
        )
        total = f"page.{quote('total')}" if with_total else "NULL"
        table = quote(CatalogProduct._meta.db_table)
        # The ordering is one of ORDERINGS (checked), the table and columns the model's own, and every
        # value a bound parameter.
        sql = (
            f"SELECT product.{quote('doc')}, {total} FROM ("  # noqa: S608
            f"SELECT * FROM ({inner}) matches ORDER BY {order} LIMIT %s OFFSET %s"
            f") page JOIN {table} product ON product.{quote('id')} = page.{quote('id')} "
            f"ORDER BY {outer_order}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, limit, offset])
            return cursor.fetchall()

    def _filtered(self, query: ProductQuery) -> QuerySet[CatalogProduct]:
        """The monolith's product_list filters, one for one (legacy_monolith/catalog/selectors.py)."""
        queryset = self._products()
        if not query.include_inactive:
            queryset = queryset.filter(is_active=True)
        if query.category:
            # The ids themselves, not a subquery: the planner then estimates how many products they
            # hold from the column's statistics instead of a guess per subquery row.
            categories = CatalogCategory.objects.using(self.using)
            parents = categories.filter(slug=query.category).values("id")
            category_ids = list(
                categories.filter(Q(slug=query.category) | Q(parent_id__in=parents))
                .order_by("id")
                .values_list("id", flat=True)
            )
            queryset = queryset.filter(category_id__in=category_ids)
        if query.min_price is not None:
            queryset = queryset.filter(price__gte=query.min_price)
        if query.max_price is not None:
            queryset = queryset.filter(price__lte=query.max_price)
        if query.in_stock is True:
            queryset = queryset.filter(stock__gt=0)
        elif query.in_stock is False:
            queryset = queryset.filter(stock=0)
        for index, (name, values) in enumerate(sorted(query.attributes.items())):
            common.check_attribute_name(name)
            queryset = self._filter_attribute(queryset, index, name, values)
        if query.q and text_search.usable(self._vendor, query.q):
            queryset = queryset.filter(id__in=text_search.matches(self.using, query.q).values("id"))
        elif query.q:
            queryset = queryset.filter(
                Q(name__icontains=query.q) | Q(description__icontains=query.q) | Q(sku__icontains=query.q)
            )
        return queryset

    def _filter_attribute(self, queryset: QuerySet, index: int, name: str, values: Sequence[str]) -> QuerySet:
        """Any of the values, each in its string and typed forms. On PostgreSQL as JSONB containment
        (`attributes @> '{"name": v}'`, served by the GIN index; for the flat scalar attributes the
        contract allows it equals the monolith's `attributes -> 'name' = v`); elsewhere the monolith's
        own KeyTransform equality."""
        condition = Q()
        if self._vendor == "postgresql":
            for raw in values:
                for candidate in attribute_candidates(raw):
                    condition |= Q(attributes__contains={name: candidate})
            return queryset.filter(condition)
        alias = f"attribute_{index}"
        for raw in values:
            for candidate in attribute_candidates(raw):
                condition |= Q(**{alias: candidate})
        return queryset.alias(**{alias: KeyTransform(name, "attributes")}).filter(condition)


def narrows(query: ProductQuery) -> bool:
    """Whether a listing filters more than the active flag (whose matches an index alone can count)."""
    return bool(
        query.category
        or query.q
        or query.attributes
        or query.in_stock is not None
        or query.min_price is not None
        or query.max_price is not None
    )
