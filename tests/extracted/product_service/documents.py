"""Contract documents for the service's tests: valid by construction, overridable field by field."""

from __future__ import annotations

from typing import Any

CATEGORIES = [
    {"id": 1, "name": "Laptops", "slug": "laptops", "parent_id": None, "version": 1},
    {"id": 2, "name": "Gaming laptops", "slug": "gaming-laptops", "parent_id": 1, "version": 1},
    {"id": 3, "name": "Audio", "slug": "audio", "parent_id": None, "version": 1},
]
_REFS = {c["id"]: {"id": c["id"], "slug": c["slug"], "name": c["name"]} for c in CATEGORIES}


def product_doc(product_id: int, **overrides: Any) -> dict[str, Any]:
    category_id = overrides.pop("category_id", 1 + product_id % 3)
    doc = {
        "id": product_id,
        "sku": f"SKU-{product_id:05d}",
        "name": f"Product {product_id:05d}",
        "slug": f"product-{product_id:05d}",
        "description": f"Description of product {product_id}",
        "category": dict(_REFS[category_id]),
        "price": f"{10 + product_id * 7 % 500}.{product_id % 100:02d}",
        "currency": "EUR",
        "attributes": {
            "brand": ["Acme", "Globex", "Initech"][product_id % 3],
            "ram_gb": 8 * (1 + product_id % 4),
        },
        "image_urls": [f"https://img.example/{product_id}.jpg"],
        "stock": product_id % 5,
        "weight_grams": 1000 + product_id,
        "is_active": product_id % 11 != 0,
        "created_at": f"2026-01-{1 + product_id % 28:02d}T10:00:00Z",
        "updated_at": "2026-01-29T10:00:00.123456Z",
        "version": 1,
    }
    doc.update(overrides)
    return doc


def catalog(count: int) -> list[dict[str, Any]]:
    return [product_doc(product_id) for product_id in range(1, count + 1)]
