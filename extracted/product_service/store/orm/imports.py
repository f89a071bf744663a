"""The ORM store's import path (backfill and follow): multi-row INSERT ... ON CONFLICT DO UPDATE ...
WHERE the stored version is older, chunked, with digests computed at write time; tombstones keep a
deleted product from coming back with a stale upsert."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from django.db import connections, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contracts.product import doc_digest

from ...models import CatalogCategory, CatalogProduct, CatalogTombstone
from .. import common
from ..port import (
    ImportResult,
)
from .base import OrmStoreBase

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


class OrmImports(OrmStoreBase):
    """The import path's writes: products, tombstones and categories."""

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
