"""Draw one historical order at a time: customer, lines, address, shipping, coupon, status, payment.

Pure in-memory work over the products and customers orders_seed loaded; nothing here writes.
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from faker import Faker

from legacy_monolith.catalog.models import StockMovement
from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.orders.models import Coupon, Order, OrderItem
from legacy_monolith.orders.pricing import (
    coupon_check,
    coupon_discount,
    money,
    postal_code_normalize,
    shipping_rule_pick,
)
from legacy_monolith.payments.models import Payment, Refund

from .base import SeedError

COUNTRIES = (("FR", "fr_FR", 80), ("DE", "de_DE", 12), ("BE", "nl_BE", 8))
CANCELLED_SHARE = 0.08
COUPON_SHARES = (("WELCOME10", 0.12), ("FIVEOFF", 0.08))
CARDS = (("visa", "424242"), ("mastercard", "555555"), ("visa", "400000"), ("amex", "378282"))


@dataclass
class Stockable:
    """A product an order may contain, with what the simulation still lets orders take."""

    id: int
    sku: str
    name: str
    price: Decimal
    weight_grams: int
    stock: int
    updated_at: datetime
    available: int = 0


@dataclass
class History:
    """Everything the orders draw, ready to insert."""

    orders: list[Order] = field(default_factory=list)
    items: dict[str, list[OrderItem]] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    redemptions: dict[str, Coupon] = field(default_factory=dict)
    # (when, order number, product id, delta, reason)
    stock_events: list[tuple[datetime, str, int, int, str]] = field(default_factory=list)


class OrderDraw:
    """Draws one order at a time: customer, lines, address, coupon, status, payment."""

    def __init__(self, rng, *, customers, stockables, coupons, rules):
        self.rng = rng
        self.customers = customers
        self.joined = [joined for joined, _ in customers]
        self.pool = list(stockables)  # products with units left; shrinks as they sell out
        self.coupons = coupons
        self.rules = rules
        self.fake = Faker([locale for _, locale, _ in COUNTRIES])
        self.fake.seed_instance(rng.getrandbits(64))

    def order(self, history: History, *, number: str, when: datetime, as_of: datetime) -> None:
        rng = self.rng
        eligible = bisect.bisect_left(self.joined, when)
        customer = rng.randrange(eligible) if eligible else 0
        joined, user_id = self.customers[customer]
        when = max(when, joined + timedelta(hours=1))
        lines = self._lines()
        if not lines:
            raise SeedError(
                f"ran out of stock after {len(history.orders)} orders: seed more products or fewer orders"
            )
        subtotal = sum((money(p.price * q) for p, q in lines), Decimal("0.00"))
        weight = sum(p.weight_grams * q for p, q in lines)
        country, locale, _ = rng.choices(COUNTRIES, weights=[w for *_, w in COUNTRIES])[0]
        address = self.fake[locale]
        postal_code = postal_code_normalize(country=country, postal_code=address.postcode())
        rule = shipping_rule_pick(self.rules, country=country, postal_code=postal_code, weight_grams=weight)
        if rule is None:
            raise SeedError(f"the shipping rule table prices no {weight} g parcel to {country} {postal_code}")
        cancelled = rng.random() < CANCELLED_SHARE
        coupon = None if cancelled else self._coupon(subtotal, when)
        discount = (
            coupon_discount(kind=coupon.kind, value=coupon.value, subtotal=subtotal) if coupon else Decimal(0)
        )
        total = subtotal - discount + rule.price
        paid_at = when + timedelta(seconds=rng.uniform(2, 20))
        cancelled_at = paid_at + timedelta(minutes=rng.uniform(10, 2880)) if cancelled else None
        age = as_of - when
        if cancelled:
            status = Order.Status.CANCELLED
        elif age < timedelta(days=3) or rng.random() < 0.04:
            status = Order.Status.PAID
        else:
            status = Order.Status.SHIPPED
        order = Order(
            number=number,
            user_id=user_id,
            status=status,
            subtotal=subtotal,
            discount_total=money(discount),
            shipping_total=money(rule.price),
            total=money(total),
            coupon=coupon,
            shipping_name=f"{address.first_name()} {address.last_name()}",
            shipping_line1=address.street_address()[:200],
            shipping_city=address.city()[:100],
            shipping_postal_code=postal_code,
            shipping_country=country,
            shipping_carrier=rule.carrier,
            created_at=when,
            updated_at=cancelled_at or paid_at,
            paid_at=paid_at,
            cancelled_at=cancelled_at,
        )
        history.orders.append(order)
        history.items[number] = [
            OrderItem(
                sku=p.sku,
                name=p.name,
                unit_price=p.price,
                quantity=q,
                line_total=money(p.price * q),
                product_id=p.id,
            )
            for p, q in lines
        ]
        for product, quantity in lines:
            history.stock_events.append(
                (when, number, product.id, -quantity, StockMovement.Reason.RESERVATION)
            )
            if cancelled:
                history.stock_events.append(
                    (cancelled_at, number, product.id, quantity, StockMovement.Reason.RELEASE)
                )
        history.payments[number] = self._payment(order, user_id, customer=customer, refunded=cancelled)
        if cancelled:
            history.refunds[number] = Refund(
                amount=order.total,
                reason="order cancelled by the customer",
                status=Refund.Status.SUCCEEDED,
                gateway_ref=f"re_{rng.getrandbits(96):024x}",
                idempotency_key=f"seed-refund-{number}",
                created_at=cancelled_at,
            )
        if coupon:
            history.redemptions[number] = coupon

    def _lines(self) -> list[tuple[Stockable, int]]:
        """1-4 distinct products; quantities never exceed what is left (cancelled orders keep theirs)."""
        rng = self.rng
        wanted = rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
        picks = rng.sample(range(len(self.pool)), min(wanted, len(self.pool)))
        lines = []
        # Highest index first: removing a sold-out product swaps the last one into its slot, which
        # never moves a pick still to come.
        for index in sorted(picks, reverse=True):
            product = self.pool[index]
            quantity = min(rng.choices((1, 2, 3), weights=(80, 15, 5))[0], product.available)
            product.available -= quantity
            if product.available == 0:
                self.pool[index] = self.pool[-1]
                self.pool.pop()
            lines.append((product, quantity))
        return lines

    def _coupon(self, subtotal: Decimal, when: datetime) -> Coupon | None:
        draw = self.rng.random()
        for code, share in COUPON_SHARES:
            if draw < share:
                coupon = self.coupons[code]
                try:
                    coupon_check(coupon, subtotal=subtotal, now=when)
                except ApplicationError:
                    return None
                coupon.times_used += 1  # in memory: later draws respect the usage limit
                return coupon
            draw -= share
        return None

    def _payment(self, order: Order, user_id: int, *, customer: int, refunded: bool) -> Payment:
        rng = self.rng
        card = customer * 2 + rng.randrange(2)  # each customer pays with one of two cards
        brand, card_bin = CARDS[card % len(CARDS)]
        return Payment(
            user_id=user_id,
            gateway=rng.choices(("cardinal", "northpay"), weights=(70, 30))[0],
            gateway_ref=f"ch_{rng.getrandbits(96):024x}",
            idempotency_key=f"seed-{order.number}",
            amount=order.total,
            amount_refunded=order.total if refunded else Decimal("0.00"),
            currency=order.currency,
            status=Payment.Status.REFUNDED if refunded else Payment.Status.CAPTURED,
            card_token=f"tok_{hashlib.sha256(f'token:{card}'.encode()).hexdigest()[:24]}",
            card_fingerprint=hashlib.sha256(f"card:{card}".encode()).hexdigest(),
            card_brand=brand,
            card_bin=card_bin,
            card_last4=f"{card * 7919 % 10000:04d}",
            card_country=order.shipping_country,
            client_ip=self.fake["fr_FR"].ipv4_public(),
            fraud_score=rng.randint(0, 25),
            created_at=order.created_at + timedelta(seconds=1),
            updated_at=order.cancelled_at or order.paid_at,
        )
