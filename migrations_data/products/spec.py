"""The catalog's entity specs: monolith rows (`.values()`, category joined) -> contract documents ->
the Product service's import endpoints."""

from __future__ import annotations

from acl_adapters.catalog.translate import (
    CATEGORY_ROW_FIELDS,
    MOVEMENT_ROW_FIELDS,
    PRODUCT_ROW_FIELDS,
    category_row_to_document,
    movement_row_to_document,
    product_row_to_document,
)
from contracts import product as contract
from legacy_monolith.catalog.models import Category, Product, StockMovement
from migrations_data.engine import EntitySpec, ImportResult, keyset_spec
from migrations_data.engine.http import InternalApiClient

IMPORT_PRODUCTS = "/internal/v1/import/products"
IMPORT_CATEGORIES = "/internal/v1/import/categories"
IMPORT_MOVEMENTS = "/internal/v1/import/movements"


def _import_result(answer: dict) -> ImportResult:
    return ImportResult(
        applied=int(answer.get("applied", 0)),
        stale=int(answer.get("stale", 0)),
        deleted=int(answer.get("deleted", 0)),
    )


def product_spec(client: InternalApiClient) -> EntitySpec:
    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        return _import_result(client.post(IMPORT_PRODUCTS, {"products": documents, "deleted": tombstones}))

    return keyset_spec(
        name="products",
        model=Product,
        fields=PRODUCT_ROW_FIELDS,
        translate=product_row_to_document,
        send=send,
        validate=contract.validate_product,
    )


def category_spec(client: InternalApiClient) -> EntitySpec:
    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        if tombstones:
            raise ValueError("the Product service's category import takes no deletions")
        return _import_result(client.post(IMPORT_CATEGORIES, {"categories": documents}))

    return keyset_spec(
        name="categories",
        model=Category,
        fields=CATEGORY_ROW_FIELDS,
        translate=category_row_to_document,
        send=send,
        validate=contract.validate_category,
    )


def movement_spec(client: InternalApiClient) -> EntitySpec:
    """The stock history (with balance_after) into the service's: recorded once per id, levels untouched
    (they travel in the product documents). Movements that came from the service are there already."""

    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        if tombstones:
            raise ValueError("stock movements are never deleted")
        return _import_result(client.post(IMPORT_MOVEMENTS, {"movements": documents}))

    return keyset_spec(
        name="movements",
        model=StockMovement,
        fields=MOVEMENT_ROW_FIELDS,
        translate=movement_row_to_document,
        send=send,
        validate=contract.validate_movement,
    )


def catalog_specs(client: InternalApiClient) -> list[EntitySpec]:
    """Categories first: a product document embeds its category, the service may check it exists; the
    products' stock histories last."""
    return [category_spec(client), product_spec(client), movement_spec(client)]
