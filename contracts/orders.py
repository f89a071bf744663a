"""The order document: what `order.created|confirmed|cancelled|failed` events carry, and what `sync orders`
moves between the monolith and the Order service (both ways, each order owned by its `origin`).

    {"number", "order_id" (= number: the Product service's stock consumers key reservations on it),
     "origin": "monolith" | "service", "version", "user_id", "status", "currency", "subtotal",
     "discount_total", "shipping_total", "total" (2-decimal strings), "coupon_code" | null,
     "shipping": {"name", "line1", "city", "postal_code", "country", "carrier"},
     "lines": [{"product_id", "sku", "name", "unit_price", "quantity", "line_total"}],
     "payment": {"id", "status", "gateway", "card_last4", "card_brand"} | null,
     "failure": {"code", "message"} | null,
     "created_at", "paid_at", "cancelled_at" (ISO 8601 UTC or null)}

A copy applies a document only when its version is newer than the copy's (equal or older: a no-op), so
redelivered or reordered events never move an order backwards.
"""

from __future__ import annotations

import re
from typing import Any

from contracts.errors import ApplicationError

ORIGINS = ("monolith", "service")
STATUSES = (
    "pending_payment", "paid", "payment_failed", "cancelled", "shipped", "refunded", "partially_refunded",
    "rejected",
)  # fmt: skip
ORDER_EVENTS = ("order.created", "order.confirmed", "order.cancelled", "order.failed")
FIELDS = (
    "number", "order_id", "origin", "version", "user_id", "status", "currency", "subtotal", "discount_total",
    "shipping_total", "total", "coupon_code", "shipping", "lines", "payment", "failure", "created_at",
    "paid_at", "cancelled_at",
)  # fmt: skip
MONEY = re.compile(r"^-?(0|[1-9][0-9]{0,11})\.[0-9]{2}$")
NUMBER = re.compile(r"^[A-Z0-9-]{1,20}$")


class InvalidOrderDocument(ApplicationError):
    def __init__(self, field: str, detail: str):
        super().__init__("invalid_document", f"{field}: {detail}", extra={"field": field})


def validate_order(doc: Any) -> dict[str, Any]:
    """The document, checked field by field (never coerced); else InvalidOrderDocument naming the field."""
    if not isinstance(doc, dict):
        raise InvalidOrderDocument("document", "must be a JSON object")
    unknown = sorted(set(doc) - set(FIELDS))
    missing = [name for name in FIELDS if name not in doc]
    if unknown or missing:
        raise InvalidOrderDocument((unknown or missing)[0], "unknown field" if unknown else "missing")
    if (
        not isinstance(doc["number"], str)
        or not NUMBER.match(doc["number"])
        or doc["order_id"] != doc["number"]
    ):
        raise InvalidOrderDocument("number", "must be an order number, repeated as order_id")
    if doc["origin"] not in ORIGINS:
        raise InvalidOrderDocument("origin", f"one of {', '.join(ORIGINS)}")
    if doc["status"] not in STATUSES:
        raise InvalidOrderDocument("status", "not an order status")
    for name in ("version", "user_id"):
        if isinstance(doc[name], bool) or not isinstance(doc[name], int) or doc[name] < 1:
            raise InvalidOrderDocument(name, "must be a positive integer")
    for name in ("subtotal", "discount_total", "shipping_total", "total"):
        if not isinstance(doc[name], str) or not MONEY.match(doc[name]):
            raise InvalidOrderDocument(name, "must be a 2-decimal string")
    if not isinstance(doc["lines"], list) or not all(isinstance(line, dict) for line in doc["lines"]):
        raise InvalidOrderDocument("lines", "must be a list of objects")
    for index, line in enumerate(doc["lines"]):
        for name in ("product_id", "quantity"):
            if isinstance(line.get(name), bool) or not isinstance(line.get(name), int) or line[name] < 1:
                raise InvalidOrderDocument(f"lines[{index}].{name}", "must be a positive integer")
    if not isinstance(doc["shipping"], dict):
        raise InvalidOrderDocument("shipping", "must be an object")
    return doc
