"""Documents rendered as the API answers them. /api/v1 renders exactly the monolith's ProductOutput and
CategoryOutput (field order included; `in_stock` derived, `version` not shown); /api/v2 adds `version`."""

from typing import Any


def product_v1(doc: dict[str, Any]) -> dict[str, Any]:
    category = doc["category"]
    return {
        "id": doc["id"],
        "sku": doc["sku"],
        "name": doc["name"],
        "slug": doc["slug"],
        "description": doc["description"],
        "category": {"id": category["id"], "slug": category["slug"], "name": category["name"]},
        "price": doc["price"],
        "currency": doc["currency"],
        "attributes": doc["attributes"],
        "image_urls": doc["image_urls"],
        "stock": doc["stock"],
        "in_stock": doc["stock"] > 0,
        "weight_grams": doc["weight_grams"],
        "is_active": doc["is_active"],
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
    }


def category_v1(doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc["id"], "slug": doc["slug"], "name": doc["name"], "parent_id": doc["parent_id"]}


def product_v2(doc: dict[str, Any]) -> dict[str, Any]:
    return {**product_v1(doc), "version": doc["version"]}


def category_v2(doc: dict[str, Any]) -> dict[str, Any]:
    return {**category_v1(doc), "version": doc["version"]}
