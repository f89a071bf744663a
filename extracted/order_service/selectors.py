"""Reads: the caller's cart (priced from the catalog now), shipping and coupon quotes, coupons, orders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from contracts.errors import ApplicationError, NotFoundError
from contracts.pricing import coupon_check, coupon_discount, money, shipping_rule_pick

from .catalog import products_get
from .models import Cart, CartItem, Coupon, Order, ShippingRule

_ORDER_NUMBER = re.compile(r"^[A-Z0-9-]{1,20}$")


@dataclass(frozen=True)
class CartLine:
    product_id: int
    sku: str
    name: str
    unit_price: Decimal
    quantity: int
    line_total: Decimal
    available_stock: int
    weight_grams: int
    currency: str


@dataclass(frozen=True)
class CartSummary:
    items: list[CartLine]
    subtotal: Decimal
    total_weight_grams: int
    item_count: int


@dataclass(frozen=True)
class ShippingQuote:
    rule: ShippingRule
    carrier: str
    price: Decimal
    delivery_days: int


@dataclass(frozen=True)
class CouponQuote:
    coupon: Coupon
    discount: Decimal
    subtotal: Decimal


def cart_summary(*, cart: Cart | None) -> CartSummary:
    """Price a cart at the catalog's current prices (a product it no longer shows: last known, 0 left)."""
    items = list(CartItem.objects.filter(cart=cart).order_by("id")) if cart is not None else []
    facts = products_get([item.product_id for item in items])
    lines = []
    for item in items:
        product = facts.get(item.product_id)
        if product is not None:
            price, sku, name = money(product.price), product.sku, product.name
            weight, currency = product.weight_grams, product.currency
            available = product.stock if product.is_active else 0
        else:
            price, sku, name = money(item.unit_price), item.sku, item.name
            weight, currency, available = item.weight_grams, item.currency, 0
        lines.append(
            CartLine(
                item.product_id,
                sku,
                name,
                price,
                item.quantity,
                money(price * item.quantity),
                available,
                weight,
                currency,
            )
        )
    return CartSummary(
        items=lines,
        subtotal=money(sum((line.line_total for line in lines), Decimal(0))),
        total_weight_grams=sum(line.weight_grams * line.quantity for line in lines),
        item_count=sum(line.quantity for line in lines),
    )


def cart_get(*, user_id: int) -> CartSummary:
    """The caller's cart; reading it never creates one."""
    return cart_summary(cart=Cart.objects.filter(user_id=user_id).first())


def shipping_quote(*, country: str, postal_code: str, weight_grams: int) -> ShippingQuote:
    """Price a parcel from the rule table; 422 shipping_unavailable when no rule covers it."""
    rules = ShippingRule.objects.filter(country=country.upper(), is_active=True)
    rule = shipping_rule_pick(rules, country=country, postal_code=postal_code, weight_grams=weight_grams)
    if rule is None:
        raise ApplicationError(
            "shipping_unavailable",
            f"We do not ship {weight_grams} g to {postal_code} ({country.upper()})",
            extra={"country": country.upper(), "postal_code": postal_code, "weight_grams": weight_grams},
            status=422,
        )
    return ShippingQuote(
        rule=rule, carrier=rule.carrier, price=money(rule.price), delivery_days=rule.delivery_days
    )


def coupon_get_by_code(*, code: str) -> Coupon:
    coupon = Coupon.objects.filter(code__iexact=code.strip()).order_by("id").first()
    if coupon is None:
        raise ApplicationError(
            "coupon_not_found", f"No coupon {code.strip()!r}", extra={"code": code.strip()}
        )
    return coupon


def coupon_quote(*, code: str, subtotal: Decimal) -> CouponQuote:
    coupon = coupon_get_by_code(code=code)
    coupon_check(coupon, subtotal=subtotal, now=timezone.now())
    discount = coupon_discount(kind=coupon.kind, value=coupon.value, subtotal=subtotal)
    return CouponQuote(coupon=coupon, discount=discount, subtotal=money(subtotal))


def coupon_quote_for_cart(*, user_id: int, code: str) -> CouponQuote:
    return coupon_quote(code=code, subtotal=cart_get(user_id=user_id).subtotal)


def coupon_list() -> QuerySet[Coupon]:
    return Coupon.objects.order_by("-created_at", "-id")


def order_list(*, user_id: int, include_rejected: bool = False) -> QuerySet[Order]:
    """The caller's orders, newest first (v1 leaves out the ones the monolith would never have made)."""
    orders = Order.objects.filter(user_id=user_id).prefetch_related("items")
    return orders if include_rejected else orders.exclude(status=Order.Status.REJECTED)


def order_get(*, user_id: int, number: str, include_rejected: bool = False) -> Order:
    """One of the caller's orders; someone else's is 404 like a missing one."""
    order = (
        order_list(user_id=user_id, include_rejected=include_rejected).filter(number=number).first()
        if _ORDER_NUMBER.match(number)
        else None
    )
    if order is None:
        raise NotFoundError("order", number)
    return order
