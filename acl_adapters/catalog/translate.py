"""Monolith catalog rows <-> the Product service's documents (the product contract), both directions.

Pure functions. The forward direction renders exactly what the monolith's /api/v1 renders (price as a
2-decimal string, DRF's ISO 8601 UTC timestamps with 'Z'), so a document the service stores answers the
same JSON. `version` is the row's `sync_version` (bumped by a trigger on every write). Two source shapes:
a model instance, and a `.values(*PRODUCT_ROW_FIELDS)` row (no model instances: the bulk paths).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from contracts.product import PRODUCT_COLUMN_FIELDS
from legacy_monolith.catalog.models import Category, Product

PRICE_QUANTUM = Decimal("0.01")

# What a bulk path selects: `Product.objects.values(*PRODUCT_ROW_FIELDS)` (the category joined).
PRODUCT_ROW_FIELDS = (
    "id",
    "sku",
    "name",
    "slug",
    "description",
    "category_id",
    "category__slug",
    "category__name",
    *PRODUCT_COLUMN_FIELDS,
    "sync_version",
)
CATEGORY_ROW_FIELDS = ("id", "name", "slug", "parent_id", "sync_version")
MOVEMENT_ROW_FIELDS = (
    "id",
    "product_id",
    "delta",
    "balance_after",
    "reason",
    "reference",
    "actor_id",
    "created_at",
)


def render_timestamp(value: datetime) -> str:
    """As DRF's DateTimeField renders it with USE_TZ and UTC: isoformat, '+00:00' spelled 'Z'."""
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def render_price(value: Decimal) -> str:
    """As DRF's DecimalField(decimal_places=2, coerce_to_string=True) renders it."""
    return f"{value.quantize(PRICE_QUANTUM):f}"


def _version(source: Any, explicit: int | None) -> int:
    if explicit is not None:
        return explicit
    return int(getattr(source, "sync_version", 0) or 0)


def product_row_to_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `.values(*PRODUCT_ROW_FIELDS)` row (category joined) as a product document."""
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "slug": row["slug"],
        "description": row["description"],
        "category": {"id": row["category_id"], "slug": row["category__slug"], "name": row["category__name"]},
        "price": render_price(row["price"]),
        "currency": row["currency"],
        "attributes": row["attributes"],
        "image_urls": row["image_urls"],
        "stock": row["stock"],
        "weight_grams": row["weight_grams"],
        "is_active": row["is_active"],
        "created_at": render_timestamp(row["created_at"]),
        "updated_at": render_timestamp(row["updated_at"]),
        "version": row["sync_version"],
    }


def product_to_document(product: Product, *, version: int | None = None) -> dict[str, Any]:
    """A Product (its category loaded) as a product document; version defaults to its sync_version."""
    category = product.category
    return product_row_to_document(
        {
            "id": product.pk,
            "sku": product.sku,
            "name": product.name,
            "slug": product.slug,
            "description": product.description,
            "category_id": category.pk,
            "category__slug": category.slug,
            "category__name": category.name,
            "price": Decimal(product.price),
            "currency": product.currency,
            "attributes": product.attributes,
            "image_urls": product.image_urls,
            "stock": product.stock,
            "weight_grams": product.weight_grams,
            "is_active": product.is_active,
            "created_at": product.created_at,
            "updated_at": product.updated_at,
            "sync_version": _version(product, version),
        }
    )


def category_row_to_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `.values(*CATEGORY_ROW_FIELDS)` row as a category document."""
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "parent_id": row["parent_id"],
        "version": row["sync_version"],
    }


def movement_row_to_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """A monolith StockMovement row (`.values(*MOVEMENT_ROW_FIELDS)`) as the contract's movement document."""
    return {
        "id": row["id"],
        "product_id": row["product_id"],
        "delta": row["delta"],
        "balance_after": row["balance_after"],
        "reason": row["reason"],
        "reference": row["reference"],
        "actor_id": row["actor_id"],
        "created_at": render_timestamp(row["created_at"]),
    }


def category_to_document(category: Category, *, version: int | None = None) -> dict[str, Any]:
    return category_row_to_document(
        {
            "id": category.pk,
            "name": category.name,
            "slug": category.slug,
            "parent_id": category.parent_id,
            "sync_version": _version(category, version),
        }
    )


def document_to_category(doc: Mapping[str, Any]) -> Category:
    """An unsaved Category from a category document (`sync_version` set from `version`)."""
    category = Category(id=doc["id"], name=doc["name"], slug=doc["slug"], parent_id=doc.get("parent_id"))
    category.sync_version = doc.get("version", 0)
    return category


def document_to_product(doc: Mapping[str, Any]) -> Product:
    """An unsaved Product, with an unsaved Category (id, slug, name) attached, from a product document.
    What the monolith's ProductOutput renders from it equals what it renders from the original row."""
    ref = doc["category"]
    category = Category(id=ref["id"], slug=ref["slug"], name=ref["name"])
    product = Product(
        id=doc["id"],
        sku=doc["sku"],
        name=doc["name"],
        slug=doc["slug"],
        description=doc["description"],
        category=category,
        price=Decimal(doc["price"]),
        currency=doc["currency"],
        attributes=doc["attributes"],
        image_urls=doc["image_urls"],
        stock=doc["stock"],
        weight_grams=doc["weight_grams"],
        is_active=doc["is_active"],
        created_at=parse_timestamp(doc["created_at"]),
        updated_at=parse_timestamp(doc["updated_at"]),
    )
    product.sync_version = doc.get("version", 0)
    return product
