"""The catalog's entity specs: monolith rows (`.values()`, category joined) -> contract documents ->
the Product service's import endpoints."""

from __future__ import annotations

from collections.abc import Iterable

from acl_adapters.catalog.translate import (
    CATEGORY_ROW_FIELDS,
    PRODUCT_ROW_FIELDS,
    category_row_to_document,
    product_row_to_document,
)
from legacy_monolith.catalog.models import Category, Product
from migrations_data.engine import EntitySpec, ImportResult
from migrations_data.engine.http import InternalApiClient

IMPORT_PRODUCTS = "/internal/v1/import/products"
IMPORT_CATEGORIES = "/internal/v1/import/categories"


def _import_result(answer: dict) -> ImportResult:
    return ImportResult(
        applied=int(answer.get("applied", 0)),
        stale=int(answer.get("stale", 0)),
        deleted=int(answer.get("deleted", 0)),
    )


def product_spec(client: InternalApiClient) -> EntitySpec:
    rows = Product.objects.order_by("id").values(*PRODUCT_ROW_FIELDS)

    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        return _import_result(client.post(IMPORT_PRODUCTS, {"products": documents, "deleted": tombstones}))

    return EntitySpec(
        name="products",
        fetch_after=lambda last_id, limit: list(rows.filter(id__gt=last_id)[:limit]),
        fetch_ids=lambda ids: list(rows.filter(id__in=list(ids))),
        remaining=lambda last_id: Product.objects.filter(id__gt=last_id).count(),
        translate=product_row_to_document,
        send=send,
    )


def category_spec(client: InternalApiClient) -> EntitySpec:
    rows = Category.objects.order_by("id").values(*CATEGORY_ROW_FIELDS)

    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        if tombstones:
            raise ValueError("the Product service's category import takes no deletions")
        return _import_result(client.post(IMPORT_CATEGORIES, {"categories": documents}))

    return EntitySpec(
        name="categories",
        fetch_after=lambda last_id, limit: list(rows.filter(id__gt=last_id)[:limit]),
        fetch_ids=lambda ids: list(rows.filter(id__in=list(ids))),
        remaining=lambda last_id: Category.objects.filter(id__gt=last_id).count(),
        translate=category_row_to_document,
        send=send,
    )


def catalog_specs(client: InternalApiClient) -> list[EntitySpec]:
    """Categories first: a product document embeds its category, the service may check it exists."""
    return [category_spec(client), product_spec(client)]


def fetch_product_documents(ids: Iterable[int]) -> dict[int, dict]:
    """Today's documents of these products (absent ids: gone from the monolith)."""
    rows = Product.objects.filter(id__in=list(ids)).values(*PRODUCT_ROW_FIELDS)
    return {row["id"]: product_row_to_document(row) for row in rows}
