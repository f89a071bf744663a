"""The ORM catalog store: PostgreSQL JSONB (trigram, full-text and GIN indexes) or SQLite JSON, one
code path. Reads are Django querysets written like the monolith's selector, so filters, icontains and
orderings mean exactly what they mean there; writes are multi-row INSERT ... ON CONFLICT DO UPDATE
... WHERE the stored version is older, chunked, with digests computed at write time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connections, transaction
from django.db.models import (
    BooleanField,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTransform
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contracts.product import MAX_INT32, doc_digest

from ..models import CatalogCategory, CatalogProduct, CatalogTombstone, StockLedgerEntry
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

PRODUCT_COLUMNS = (
    "id",
    "category_id",
    "sku",
    "name",
    "description",
    "price",
    "stock",
    "is_active",
    "created_at",
    "attributes",
    "doc",
    "version",
    "digest",
    "applied_at",
)
CATEGORY_COLUMNS = ("id", "name", "slug", "parent_id", "version")
TOMBSTONE_COLUMNS = ("id", "version", "deleted_at")
# The full-text document of a product on PostgreSQL; the migration indexes this exact expression.
TSVECTOR_SQL = "to_tsvector('simple'::regconfig, (name::text || ' ' || sku::text || ' ' || description))"
# float8, so the rank a cursor carries compares equal to the rank the next query computes.
RANK_SQL = f"ts_rank({TSVECTOR_SQL}, plainto_tsquery('simple'::regconfig, %s))::float8"
MATCH_SQL = f"{TSVECTOR_SQL} @@ plainto_tsquery('simple'::regconfig, %s)"


class OrmCatalogStore:
    """The catalog store on the Django database `using` (the service's PRODUCT_DATABASE_URL)."""

    def __init__(self, *, using: str = "default", chunk_size: int = common.IMPORT_CHUNK):
        self.using = using
        self.chunk_size = chunk_size

    @property
    def supports_relevance(self) -> bool:
        return self._vendor == "postgresql"

    @property
    def _vendor(self) -> str:
        return connections[self.using].vendor

    def _products(self) -> QuerySet[CatalogProduct]:
        return CatalogProduct.objects.using(self.using)

    # -- imports ----------------------------------------------------------------------------------

    def upsert_products(
        self, docs: Sequence[Mapping[str, Any]], *, preserve_stock: bool = False
    ) -> ImportResult:
        prepared, _ = common.prepare_products(docs)
        applied = 0
        with transaction.atomic(using=self.using):
            for chunk in common.chunks(prepared, self.chunk_size):
                applied += self._upsert_product_chunk(chunk, preserve_stock)
        return ImportResult(applied=applied, stale=len(docs) - applied)

    def _upsert_product_chunk(self, chunk: Sequence[Mapping[str, Any]], preserve_stock: bool) -> int:
        ids = [doc["id"] for doc in chunk]
        tombstones = dict(
            CatalogTombstone.objects.using(self.using).filter(id__in=ids).values_list("id", "version")
        )
        chunk = [doc for doc in chunk if doc["version"] > tombstones.get(doc["id"], -1)]
        if preserve_stock:
            # Locked so a reservation cannot change a level between this read and the write.
            stored = dict(
                self._products()
                .select_for_update()
                .filter(id__in=ids)
                .order_by("id")
                .values_list("id", "stock")
            )
            chunk = [
                common.with_stock(doc, stored[doc["id"]]) if doc["id"] in stored else doc for doc in chunk
            ]
        if not chunk:
            return 0
        ops = connections[self.using].ops
        now = ops.adapt_datetimefield_value(timezone.now())
        rows = [
            (
                doc["id"],
                doc["category"]["id"],
                doc["sku"],
                doc["name"],
                doc["description"],
                Decimal(doc["price"]),
                doc["stock"],
                doc["is_active"],
                ops.adapt_datetimefield_value(parse_datetime(doc["created_at"])),
                orjson.dumps(doc["attributes"]).decode(),
                orjson.dumps(doc).decode(),
                doc["version"],
                doc_digest(doc),
                now,
            )
            for doc in chunk
        ]
        applied_ids = self._upsert_rows(CatalogProduct, PRODUCT_COLUMNS, rows)
        revived = [product_id for product_id in applied_ids if product_id in tombstones]
        if revived:
            CatalogTombstone.objects.using(self.using).filter(id__in=revived).delete()
        return len(applied_ids)

    def _upsert_rows(self, model, columns: Sequence[str], rows: Sequence[tuple]) -> list[int]:
        """INSERT the rows; a conflicting id is updated only where the stored version is older.
        Returns the ids written (RETURNING lists inserted and updated rows, not skipped ones)."""
        connection = connections[self.using]
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
        updates = ", ".join(f"{quote(column)} = excluded.{quote(column)}" for column in columns[1:])
        # Table and column names are the models' own; every value is a bound parameter.
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(column) for column in columns)}) "  # noqa: S608
            f"VALUES {', '.join([placeholders] * len(rows))} "
            f"ON CONFLICT ({quote('id')}) DO UPDATE SET {updates} "
            f"WHERE {table}.{quote('version')} < excluded.{quote('version')} "
            f"RETURNING {quote('id')}"
        )
        params = [value for row in rows for value in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    def delete_products(self, tombstones: Sequence[Mapping[str, Any]]) -> ImportResult:
        prepared, _ = common.prepare_tombstones(tombstones)
        deleted = 0
        with transaction.atomic(using=self.using):
            for chunk in common.chunks(prepared, self.chunk_size):
                ids = [item["id"] for item in chunk]
                stored = dict(
                    self._products()
                    .select_for_update()
                    .filter(id__in=ids)
                    .order_by("id")
                    .values_list("id", "version")
                )
                kept = dict(
                    CatalogTombstone.objects.using(self.using).filter(id__in=ids).values_list("id", "version")
                )
                due = [
                    item
                    for item in chunk
                    if stored.get(item["id"], -1) <= item["version"]
                    and kept.get(item["id"], -1) < item["version"]
                ]
                if not due:
                    continue
                self._products().filter(id__in=[item["id"] for item in due]).delete()
                now = connections[self.using].ops.adapt_datetimefield_value(timezone.now())
                self._upsert_rows(
                    CatalogTombstone, TOMBSTONE_COLUMNS, [(item["id"], item["version"], now) for item in due]
                )
                deleted += len(due)
        return ImportResult(deleted=deleted, stale=len(tombstones) - deleted)

    def upsert_categories(self, docs: Sequence[Mapping[str, Any]]) -> ImportResult:
        prepared, _ = common.prepare_categories(docs)
        applied = 0
        with transaction.atomic(using=self.using):
            for chunk in common.chunks(prepared, self.chunk_size):
                rows = [tuple(doc[column] for column in CATEGORY_COLUMNS) for doc in chunk]
                applied += len(self._upsert_rows(CatalogCategory, CATEGORY_COLUMNS, rows))
        return ImportResult(applied=applied, stale=len(docs) - applied)

    # -- v1 reads ---------------------------------------------------------------------------------

    def get_product(self, product_id: int, *, include_inactive: bool = False) -> dict[str, Any]:
        queryset = self._products().filter(id=product_id)
        if not include_inactive:
            queryset = queryset.filter(is_active=True)
        doc = queryset.values_list("doc", flat=True).first()
        if doc is None:
            raise ProductNotFound(product_id)
        return doc

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
        if query.q:
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

    # -- stock ------------------------------------------------------------------------------------

    def _lock(self, product_ids: Sequence[int]) -> dict[int, tuple[int, bool, dict]]:
        """SELECT ... FOR UPDATE in ascending id order (no two callers lock in opposite orders)."""
        rows = (
            self._products()
            .select_for_update()
            .filter(id__in=sorted(product_ids))
            .order_by("id")
            .values_list("id", "stock", "is_active", "doc")
        )
        return {product_id: (stock, active, doc) for product_id, stock, active, doc in rows}

    def _write_stock(self, levels: Mapping[int, tuple[int, dict]]) -> None:
        for product_id, (stock, doc) in levels.items():
            updated = common.with_stock(doc, stock)
            self._products().filter(id=product_id).update(
                stock=stock, doc=updated, digest=doc_digest(updated)
            )

    def _claim(self, reference: str, kind: str, lines: list[dict], status: str) -> StockLedgerEntry | None:
        """Record the reference, or return the entry already recorded under it (a replay)."""
        try:
            with transaction.atomic(using=self.using):
                StockLedgerEntry.objects.using(self.using).create(
                    reference=reference, kind=kind, lines=lines, status=status, created_at=timezone.now()
                )
            return None
        except IntegrityError:
            existing = StockLedgerEntry.objects.using(self.using).get(reference=reference)
            common.check_replay(reference, (existing.kind, existing.lines), (kind, lines))
            return existing

    def stock_adjust(self, product_id: int, delta: int, *, reference: str = "") -> int:
        common.check_delta(delta)
        if reference:
            common.check_reference(reference)
        with transaction.atomic(using=self.using):
            if reference:
                lines = [{"product_id": product_id, "quantity": delta}]
                if self._claim(reference, StockLedgerEntry.Kind.ADJUSTMENT, lines, "applied") is not None:
                    level = self._products().filter(id=product_id).values_list("stock", flat=True).first()
                    if level is None:
                        raise ProductNotFound(product_id)
                    return level
            locked = self._lock([product_id])
            if product_id not in locked:
                raise ProductNotFound(product_id)
            stock, _, doc = locked[product_id]
            if not 0 <= stock + delta <= MAX_INT32:
                raise InsufficientStock(
                    f"Stock of product {product_id} is {stock}; a change of {delta} is out of range",
                    extra={"product_id": product_id, "stock": stock, "delta": delta},
                )
            self._write_stock({product_id: (stock + delta, doc)})
            return stock + delta

    def stock_reserve(self, reference: str, lines: Sequence[StockLine]) -> Reservation:
        common.check_reference(reference)
        merged = common.merge_lines(lines)
        wanted = common.lines_json(merged)
        with transaction.atomic(using=self.using):
            existing = self._claim(reference, StockLedgerEntry.Kind.RESERVATION, wanted, "reserved")
            if existing is not None:
                return Reservation(reference, common.lines_from_json(existing.lines), existing.status)
            locked = self._lock(list(merged))
            short = []
            for product_id, quantity in merged.items():
                stock, active, _ = locked.get(product_id, (0, False, None))
                available = stock if active else 0
                if available < quantity:
                    short.append(ShortLine(product_id, quantity, available))
            if short:
                raise OutOfStock(short)
            self._write_stock(
                {
                    product_id: (locked[product_id][0] - quantity, locked[product_id][2])
                    for product_id, quantity in merged.items()
                }
            )
        return Reservation(reference, common.lines_from_json(wanted), "reserved", created=True)

    def stock_release(self, reference: str) -> Reservation | None:
        common.check_reference(reference)
        with transaction.atomic(using=self.using):
            entry = (
                StockLedgerEntry.objects.using(self.using)
                .select_for_update()
                .filter(reference=reference, kind=StockLedgerEntry.Kind.RESERVATION)
                .first()
            )
            if entry is None:
                return None
            lines = common.lines_from_json(entry.lines)
            if entry.status == StockLedgerEntry.Status.RELEASED:
                return Reservation(reference, lines, entry.status)
            locked = self._lock([line.product_id for line in lines])
            self._write_stock(
                {
                    line.product_id: (
                        min(locked[line.product_id][0] + line.quantity, MAX_INT32),
                        locked[line.product_id][2],
                    )
                    for line in lines
                    if line.product_id in locked
                }
            )
            entry.status = StockLedgerEntry.Status.RELEASED
            entry.released_at = timezone.now()
            entry.save(using=self.using, update_fields=["status", "released_at"])
        return Reservation(reference, lines, "released", created=True)

    # -- verify and status ------------------------------------------------------------------------

    def range_checksums(self, ranges: Sequence[tuple[int, int]]) -> list[RangeChecksum]:
        return [
            common.range_checksum(
                lo,
                hi,
                self._products()
                .filter(id__gte=lo, id__lt=hi)
                .order_by("id")
                .values_list("id", "digest")
                .iterator(chunk_size=10000),
            )
            for lo, hi in ranges
        ]

    def digests(self, lo: int, hi: int) -> dict[int, str]:
        return dict(self._products().filter(id__gte=lo, id__lt=hi).order_by("id").values_list("id", "digest"))

    def stats(self) -> StoreStats:
        row = self._products().aggregate(
            count=Count("id"), max_version=Max("version"), last=Max("applied_at")
        )
        return StoreStats(row["count"], row["max_version"] or 0, row["last"])


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
