"""The monolith's orders <-> order documents (contracts/orders.py), both ways.

- `order_document(order)`: a monolith order as the document (`sync orders`, the monolith's order events).
- `order_mirror_apply(doc)`: the Order service's order kept in the monolith's tables (origin `service`), so
  that a rollback of the orders route leaves it visible, cancellable and refundable here. Applied only when
  the document's version is newer than the copy's (`origin_version`): a redelivered or late event is a
  no-op. A copy of an order the monolith itself owns (origin `monolith`) is never overwritten.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_datetime

from contracts.orders import validate_order
from legacy_monolith.orders.models import Coupon, Order, OrderItem


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_document(order: Order) -> dict:
    payment = next(iter(order.payments.order_by("-created_at", "-id")), None)
    return {
        "number": order.number,
        "order_id": order.number,
        "origin": order.origin,
        "version": max(order.origin_version, 1),
        "user_id": order.user_id,
        "status": order.status,
        "currency": order.currency,
        "subtotal": f"{order.subtotal:.2f}",
        "discount_total": f"{order.discount_total:.2f}",
        "shipping_total": f"{order.shipping_total:.2f}",
        "total": f"{order.total:.2f}",
        "coupon_code": order.coupon.code if order.coupon_id else None,
        "shipping": {
            "name": order.shipping_name, "line1": order.shipping_line1, "city": order.shipping_city,
            "postal_code": order.shipping_postal_code, "country": order.shipping_country,
            "carrier": order.shipping_carrier,
        },
        "lines": [
            {"product_id": item.product_id, "sku": item.sku, "name": item.name,
             "unit_price": f"{item.unit_price:.2f}", "quantity": item.quantity,
             "line_total": f"{item.line_total:.2f}"}
            for item in order.items.order_by("id")
        ],
        "payment": {"id": str(payment.id), "status": payment.status, "gateway": payment.gateway,
                    "card_last4": payment.card_last4, "card_brand": payment.card_brand} if payment else None,
        "failure": None,
        "created_at": _time(order.created_at),
        "paid_at": _time(order.paid_at),
        "cancelled_at": _time(order.cancelled_at),
    }  # fmt: skip


def _money(value: str) -> Decimal:
    return Decimal(value)


# Statuses the monolith's Order knows; a service order failed before payment was never an order here.
MONOLITH_STATUS = {"rejected": Order.Status.PAYMENT_FAILED}


def order_mirror_apply(doc: dict, *, force: bool = False) -> tuple[Order | None, str]:
    """Apply a service order's document to its copy here: (order, "created" | "updated" | "stale" |
    "not_ours" | "dropped"). An order the service rejected before any payment (stock, coupon) was never an
    order in the monolith's terms: its copy is dropped (kept as payment_failed if a payment exists).
    `force` applies an equal version too (verify --repair)."""
    doc = validate_order(doc)
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(number=doc["number"]).first()
        if order is not None and order.origin != "service":
            return order, "not_ours"
        if order is not None and (order.origin_version > doc["version"] or
                                  (order.origin_version == doc["version"] and not force)):  # fmt: skip
            return order, "stale"
        if doc["status"] == "rejected" and (order is None or not order.payments.exists()):
            if order is not None:
                order.delete()
            return None, "dropped"
        created = order is None
        order = order or Order(number=doc["number"], origin="service")
        shipping = doc["shipping"]
        code = doc["coupon_code"]
        coupon = Coupon.objects.filter(code__iexact=code).first() if code else None
        fields = {
            "user_id": doc["user_id"], "status": MONOLITH_STATUS.get(doc["status"], doc["status"]),
            "currency": doc["currency"], "subtotal": _money(doc["subtotal"]),
            "discount_total": _money(doc["discount_total"]), "shipping_total": _money(doc["shipping_total"]),
            "total": _money(doc["total"]), "coupon": coupon, "shipping_name": shipping.get("name", ""),
            "shipping_line1": shipping.get("line1", ""), "shipping_city": shipping.get("city", ""),
            "shipping_postal_code": shipping.get("postal_code", ""),
            "shipping_country": shipping.get("country", ""), "shipping_carrier": shipping.get("carrier", ""),
            "paid_at": parse_datetime(doc["paid_at"]) if doc["paid_at"] else None,
            "cancelled_at": parse_datetime(doc["cancelled_at"]) if doc["cancelled_at"] else None,
            "origin_version": doc["version"],
        }  # fmt: skip
        for name, value in fields.items():
            setattr(order, name, value)
        order.save()
        if created:
            # created_at is auto_now_add: keep the service's moment of creation (history is ordered by it)
            Order.objects.filter(pk=order.pk).update(created_at=parse_datetime(doc["created_at"]))
            OrderItem.objects.bulk_create(
                OrderItem(order=order, product_id=line["product_id"], sku=line.get("sku", ""),
                          name=line.get("name", ""), unit_price=_money(line["unit_price"]),
                          quantity=line["quantity"], line_total=_money(line["line_total"]))
                for line in doc["lines"]
            )  # fmt: skip
            order.refresh_from_db()
    return order, "created" if created else "updated"
