"""The reference catalogue the store contract suite runs on: twelve products chosen so every v1 filter,
ordering and tiebreak has something to tell apart (equal prices, equal timestamps, attribute values as
numbers and as strings, an inactive product, a grandchild category, LIKE wildcards in a name)."""

from __future__ import annotations

from typing import Any

CATEGORIES = [
    {"id": 1, "name": "Laptops", "slug": "laptops", "parent_id": None, "version": 1},
    {"id": 2, "name": "Gaming laptops", "slug": "gaming-laptops", "parent_id": 1, "version": 1},
    {"id": 3, "name": "Audio", "slug": "audio", "parent_id": None, "version": 1},
    {"id": 5, "name": "Budget gaming", "slug": "budget-gaming", "parent_id": 2, "version": 1},
]
_CATEGORY_REFS = {c["id"]: {"id": c["id"], "slug": c["slug"], "name": c["name"]} for c in CATEGORIES}

# id, name, sku, description, category, price, stock, active, created_at, attributes
_ROWS: list[tuple] = [
    (1, "ThinkPad X1", "LEN-X1", "Business ultrabook with a carbon chassis", 1, "1899.00", 5, True,
     "2026-01-03T10:00:00Z", {"brand": "Lenovo", "ram_gb": 16, "touch": True, "color": "black"}),
    (2, "XPS 13", "DEL-XPS13", "Compact laptop", 1, "1299.00", 0, True,
     "2026-01-01T10:00:00.500000Z", {"brand": "Dell", "ram_gb": "16", "color": "silver"}),
    (3, "Legion 5", "LEN-L5", "Gaming laptop, RTX graphics", 2, "1499.50", 2, True,
     "2026-01-02T09:00:00Z", {"brand": "Lenovo", "ram_gb": 32, "screen_in": "15.6"}),
    (4, "Nitro V 15", "ACR-N15", "Budget gaming laptop", 5, "899.99", 7, True,
     "2026-01-02T09:00:00Z", {"brand": "Acer", "ram_gb": 16, "screen_in": 15.6}),
    (5, "WH-1000XM5", "SON-WH5", "Noise cancelling headphones", 3, "349.00", 12, True,
     "2026-01-05T08:30:00.250000Z", {"brand": "Sony", "wireless": True, "color": "black"}),
    (6, "AirPods Max", "APL-APM", "Over-ear headphones", 3, "579.00", 0, True,
     "2026-01-04T12:00:00Z", {"brand": "Apple", "wireless": True, "color": "silver"}),
    (7, "Major V", "MAR-MV", "Wireless headphones, retired", 3, "149.00", 3, False,
     "2026-01-06T00:00:00Z", {"brand": "Marshall", "wireless": "true", "color": "black"}),
    (8, "ThinkPad T14", "LEN-T14", "Business laptop", 1, "1299.00", 1, True,
     "2026-01-01T10:00:00Z", {"brand": "Lenovo", "ram_gb": 8, "color": "black"}),
    (9, "Momentum 4", "SEN-M4", "Headphones, thinkpad compatible", 3, "49.99", 0, True,
     "2026-01-07T00:00:00Z", {"brand": "Sennheiser", "color": "white"}),
    (10, "Zenbook 14", "ASU-ZB14", "OLED laptop", 2, "999.00", 4, True,
     "2026-01-08T00:00:00Z", {"brand": "ASUS", "ram_gb": 16}),
    (11, "Ångström Speaker", "AAA-ANG", "Bluetooth speaker", 3, "250.00", 9, True,
     "2026-01-03T10:00:00Z", {"brand": "Nordic", "wireless": False}),
    (12, "aero cable 50% off", "ACC_USB-C", "USB-C cable", 3, "9.99", 100, True,
     "2026-01-09T00:00:00Z", {}),
]  # fmt: skip

ACTIVE_IDS = [row[0] for row in _ROWS if row[7]]


def product_doc(product_id: int, **overrides: Any) -> dict[str, Any]:
    """The reference product `product_id` (1-12), or a made-up one beyond, with fields overridden."""
    row = next((r for r in _ROWS if r[0] == product_id), None)
    if row is None:
        row = (product_id, f"Extra {product_id}", f"EXT-{product_id}", "", 3, "10.00", 1, True,
               "2026-02-01T00:00:00Z", {})  # fmt: skip
    _, name, sku, description, category_id, price, stock, active, created_at, attributes = row
    doc = {
        "id": product_id,
        "sku": sku,
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "description": description,
        "category": dict(_CATEGORY_REFS[category_id]),
        "price": price,
        "currency": "EUR",
        "attributes": dict(attributes),
        "image_urls": [f"https://img.example/{product_id}/1.jpg"],
        "stock": stock,
        "weight_grams": 100 * product_id,
        "is_active": active,
        "created_at": created_at,
        "updated_at": "2026-01-10T00:00:00.123456Z",
        "version": 1,
    }
    doc.update(overrides)
    return doc


def products() -> list[dict[str, Any]]:
    return [product_doc(row[0]) for row in _ROWS]
