"""An order as its contract document (contracts/orders.py): events and `sync orders` carry it."""

from __future__ import annotations

from datetime import datetime

from .models import Order


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def order_document(order: Order) -> dict:
    payment = (
        {
            "id": order.payment_id,
            "status": order.payment_status,
            "gateway": order.payment_gateway,
            "card_last4": order.card_last4,
            "card_brand": order.card_brand,
        }
        if order.payment_id
        else None
    )
    return {
        "number": order.number,
        "order_id": order.number,
        "origin": order.origin,
        "version": order.version,
        "user_id": order.user_id,
        "status": order.status,
        "currency": order.currency,
        "subtotal": f"{order.subtotal:.2f}",
        "discount_total": f"{order.discount_total:.2f}",
        "shipping_total": f"{order.shipping_total:.2f}",
        "total": f"{order.total:.2f}",
        "coupon_code": order.coupon_code or None,
        "shipping": {
            "name": order.shipping_name,
            "line1": order.shipping_line1,
            "city": order.shipping_city,
            "postal_code": order.shipping_postal_code,
            "country": order.shipping_country,
            "carrier": order.shipping_carrier,
        },
        "lines": [
            {
                "product_id": item.product_id,
                "sku": item.sku,
                "name": item.name,
                "unit_price": f"{item.unit_price:.2f}",
                "quantity": item.quantity,
                "line_total": f"{item.line_total:.2f}",
            }
            for item in order.items.all()
        ],
        "payment": payment,
        "failure": {"code": order.failure_code, "message": order.failure_message}
        if order.failure_code
        else None,
        "created_at": _time(order.created_at),
        "paid_at": _time(order.paid_at),
        "cancelled_at": _time(order.cancelled_at),
    }
