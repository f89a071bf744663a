"""Rows for the Order service's tests (orders as checkout writes them, before their saga starts)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.utils import timezone

from extracted.order_service.models import Coupon, Order, OrderItem

_numbers = itertools.count(1)


def make_order(
    *, user_id: int = 7, total: str = "30.00", coupon: Coupon | None = None, lines=((11, 2),)
) -> Order:
    order = Order.objects.create(
        number=f"TS-TEST-{next(_numbers):06d}",
        user_id=user_id,
        currency="EUR",
        subtotal=Decimal(total),
        total=Decimal(total),
        coupon=coupon,
        coupon_code=coupon.code if coupon else "",
        shipping_name="Ada",
        shipping_line1="1 rue de la Paix",
        shipping_city="Paris",
        shipping_postal_code="75001",
        shipping_country="FR",
        payment_adapter="monolith",
        created_at=timezone.now(),
    )
    for product_id, quantity in lines:
        OrderItem.objects.create(
            order=order,
            product_id=product_id,
            sku=f"SKU-{product_id}",
            name=f"Product {product_id}",
            unit_price=Decimal("10.00"),
            quantity=quantity,
            line_total=Decimal("10.00") * quantity,
        )
    return order
