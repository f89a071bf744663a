"""Seed a year of order history: orders with items, payments, refunds, coupon redemptions and the stock
movements they caused.

Seeded orders went through checkout as the monolith runs it: each line RESERVED stock, so product stock
is decremented and a RESERVATION movement written; a cancelled order was paid, refunded in full and its
stock RELEASED. Totals use the monolith's own pricing rules (orders.pricing): subtotal = sum of lines,
discount from the coupon, shipping from the rule table, total = subtotal - discount + shipping.
"""

from __future__ import annotations

import importlib
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F

from legacy_monolith.accounts.models import Role, User
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import Coupon, CouponRedemption, Order, OrderItem, ShippingRule
from legacy_monolith.payments.models import Payment, Refund

from .base import (
    SEED_EMAIL_DOMAIN,
    SEED_ORDER_PREFIX,
    SEED_SKU_REGEX,
    NullProgress,
    Progress,
    SeedError,
    bulk_insert,
    chunks,
    order_number_for,
)
from .order_draw import History, OrderDraw, Stockable

HISTORY_DAYS = 365
DEFAULT_COUPONS = (
    {
        "code": "WELCOME10",
        "kind": Coupon.Kind.PERCENT,
        "value": Decimal("10"),
        "min_order_total": Decimal("0"),
    },
    {
        "code": "FIVEOFF",
        "kind": Coupon.Kind.FIXED,
        "value": Decimal("5.00"),
        "min_order_total": Decimal("50.00"),
    },
)


def coupons_ensure() -> tuple[dict[str, Coupon], int]:
    """WELCOME10 (10 %) and FIVEOFF (5.00 off orders of 50.00 or more), unless codes already exist."""
    coupons, created = {}, 0
    for terms in DEFAULT_COUPONS:
        coupon = Coupon.objects.filter(code__iexact=terms["code"]).first()
        if coupon is None:
            coupon = Coupon.objects.create(**terms)
            created += 1
        coupons[terms["code"]] = coupon
    return coupons, created


def shipping_rules_ensure() -> int:
    """Fill an EMPTY rule table with the monolith's default rates (the orders app's 0003 data migration)."""
    if ShippingRule.objects.exists():
        return 0
    defaults = importlib.import_module(
        "legacy_monolith.orders.migrations.0003_seed_shipping_rules"
    ).DEFAULT_RULES
    ShippingRule.objects.bulk_create(
        ShippingRule(
            name=name,
            country=country,
            postal_prefix=prefix,
            min_weight_grams=low,
            max_weight_grams=high,
            price=Decimal(price),
            carrier=carrier,
            delivery_days=days,
        )
        for name, country, prefix, low, high, price, carrier, days in defaults
    )
    return len(defaults)


def last_order_number() -> int:
    last = Order.objects.filter(number__startswith=SEED_ORDER_PREFIX).order_by("-number").first()
    return int(last.number.removeprefix(SEED_ORDER_PREFIX)) if last else 0


def orders_seed(
    *,
    rng: random.Random,
    count: int,
    first_number: int,
    coupons: dict[str, Coupon],
    as_of: datetime,
    batch_size: int,
    progress: Progress,
) -> dict[str, int]:
    """Insert `count` historical orders. Returns rows inserted per table."""
    if count == 0:
        return {}
    window_start = as_of - timedelta(days=HISTORY_DAYS)
    # Seeded history stays among seeded rows (seeded customers, seeded products), so --reset undoes it whole.
    customers = list(
        User.objects.filter(role=Role.CUSTOMER, is_active=True, email__endswith=f"@{SEED_EMAIL_DOMAIN}")
        .order_by("date_joined", "id")
        .values_list("date_joined", "id")
    )
    if not customers:
        raise SeedError("orders need seeded customers: pass --users N (N > 0) or seed users first")
    stockables = [
        Stockable(**row, available=row["stock"])
        for row in Product.objects.filter(
            sku__regex=SEED_SKU_REGEX, is_active=True, stock__gt=0, created_at__lt=window_start
        )
        .order_by("id")
        .values("id", "sku", "name", "price", "weight_grams", "stock", "updated_at")
    ]
    if not stockables:
        raise SeedError(
            "orders need seeded products in stock: pass --products N (N > 0) or seed products first"
        )
    draw = OrderDraw(
        rng,
        customers=customers,
        stockables=stockables,
        coupons=coupons,
        rules=list(ShippingRule.objects.filter(is_active=True)),
    )
    times = sorted(
        window_start + timedelta(seconds=rng.uniform(0, HISTORY_DAYS * 86400 - 3600)) for _ in range(count)
    )
    history = History()
    for offset, when in enumerate(times):
        draw.order(history, number=order_number_for(first_number + offset), when=when, as_of=as_of)
    return _history_insert(history, stockables, coupons, batch_size=batch_size, progress=progress)


def _history_insert(
    history: History, stockables, coupons, *, batch_size: int, progress: Progress
) -> dict[str, int]:
    progress.start("orders", len(history.orders))
    orders = bulk_insert(
        Order, history.orders, key="number", batch_size=batch_size, progress=progress, entity="orders"
    )
    order_ids = {o.number: o.pk for o in orders}
    items = []
    for number, lines in history.items.items():
        for item in lines:
            item.order_id = order_ids[number]
            items.append(item)
    OrderItem.objects.bulk_create(items, batch_size=batch_size)
    for number, payment in history.payments.items():
        payment.order_id = order_ids[number]
    payments = bulk_insert(
        Payment,
        list(history.payments.values()),
        key="idempotency_key",
        batch_size=batch_size,
        progress=NullProgress(),
        entity="",
    )
    payment_ids = {p.idempotency_key.removeprefix("seed-"): p.pk for p in payments}
    for number, refund in history.refunds.items():
        refund.payment_id = payment_ids[number]
    Refund.objects.bulk_create(history.refunds.values(), batch_size=batch_size)
    redemptions = [
        CouponRedemption(
            coupon=coupon,
            order_id=order_ids[order.number],
            user_id=order.user_id,
            created_at=order.created_at,
        )
        for order in history.orders
        if (coupon := history.redemptions.get(order.number))
    ]
    CouponRedemption.objects.bulk_create(redemptions, batch_size=batch_size)
    for code in {c.code for c in history.redemptions.values()}:
        used = sum(1 for c in history.redemptions.values() if c.code == code)
        Coupon.objects.filter(pk=coupons[code].pk).update(times_used=F("times_used") + used)
    movements = _stock_apply(history, stockables, batch_size=batch_size)
    return {
        "orders": len(orders),
        "order_items": len(items),
        "payments": len(payments),
        "refunds": len(history.refunds),
        "coupon_redemptions": len(redemptions),
        "stock_movements": movements,
    }


def _stock_apply(history: History, stockables, *, batch_size: int) -> int:
    """Write the orders' movements in time order with running balances; store the products' final stock."""
    by_id = {p.id: p for p in stockables}
    balance = {p.id: p.stock for p in stockables}
    touched: dict[int, datetime] = {}
    movements = []
    for when, number, product_id, delta, reason in sorted(history.stock_events, key=lambda e: e[0]):
        balance[product_id] += delta
        assert balance[product_id] >= 0, "the order draw never takes more than a product holds"
        touched[product_id] = when
        movements.append(
            StockMovement(
                product_id=product_id,
                delta=delta,
                balance_after=balance[product_id],
                reason=reason,
                reference=number,
                created_at=when,
            )
        )
    StockMovement.objects.bulk_create(movements, batch_size=batch_size)
    changed = []
    for product_id, when in touched.items():
        product = by_id[product_id]
        changed.append(
            Product(pk=product_id, stock=balance[product_id], updated_at=max(product.updated_at, when))
        )
    for batch in chunks(changed, 1000):
        Product.objects.bulk_update(batch, ["stock", "updated_at"])
    return len(movements)
