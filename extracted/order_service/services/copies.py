"""Copies of the monolith's orders in the Order service (origin `monolith`), kept by `sync orders`: applied
only when the document is newer than the copy (`version`), never over an order this service owns."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_datetime

from ..models import Coupon, Order, OrderItem


def order_copy_apply(doc: dict) -> str:
    """ "created" | "updated" | "stale" | "not_ours"."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(number=doc["number"]).first()
        if order is not None and order.origin != Order.Origin.MONOLITH:
            return "not_ours"
        if order is not None and order.version >= doc["version"]:
            return "stale"
        created = order is None
        order = order or Order(number=doc["number"], origin=Order.Origin.MONOLITH)
        shipping, payment = doc["shipping"], doc["payment"] or {}
        code = doc["coupon_code"] or ""
        values = {
            "user_id": doc["user_id"],
            "status": doc["status"],
            "currency": doc["currency"],
            "subtotal": Decimal(doc["subtotal"]),
            "discount_total": Decimal(doc["discount_total"]),
            "shipping_total": Decimal(doc["shipping_total"]),
            "total": Decimal(doc["total"]),
            "coupon_code": code,
            "coupon": Coupon.objects.filter(code__iexact=code).first() if code else None,
            "shipping_name": shipping.get("name", ""),
            "shipping_line1": shipping.get("line1", ""),
            "shipping_city": shipping.get("city", ""),
            "shipping_postal_code": shipping.get("postal_code", ""),
            "shipping_country": shipping.get("country", ""),
            "shipping_carrier": shipping.get("carrier", ""),
            "payment_id": str(payment.get("id") or ""),
            "payment_status": payment.get("status", ""),
            "payment_gateway": payment.get("gateway", ""),
            "card_last4": payment.get("card_last4", ""),
            "card_brand": payment.get("card_brand", ""),
            "payment_adapter": "monolith",
            "created_at": parse_datetime(doc["created_at"]),
            "paid_at": parse_datetime(doc["paid_at"]) if doc["paid_at"] else None,
            "cancelled_at": parse_datetime(doc["cancelled_at"]) if doc["cancelled_at"] else None,
            "version": doc["version"],
        }
        for name, value in values.items():
            setattr(order, name, value)
        order.save()
        if created:
            OrderItem.objects.bulk_create(
                OrderItem(
                    order=order,
                    product_id=line["product_id"],
                    sku=line.get("sku", ""),
                    name=line.get("name", ""),
                    unit_price=Decimal(line["unit_price"]),
                    quantity=line["quantity"],
                    line_total=Decimal(line["line_total"]),
                )
                for line in doc["lines"]
            )
    return "created" if created else "updated"
