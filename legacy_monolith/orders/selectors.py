"""Reads: the caller's cart, shipping quotes, coupon quotes, coupons and the caller's orders."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from legacy_monolith.core.errors import ApplicationError, NotFoundError
from legacy_monolith.payments.models import Payment

from .models import Cart, CartItem, Coupon, Order, ShippingRule
from .pricing import coupon_check, coupon_discount, money, shipping_rule_pick

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
    item_count: int  # units, not lines: 2 mice and 1 keyboard are 3 items


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
    """Price a cart at the products' current prices. A missing cart is an empty one."""
    items = (
        list(CartItem.objects.filter(cart=cart).select_related("product").order_by("id"))
        if cart is not None
        else []
    )
    lines = [
        CartLine(
            product_id=item.product_id,
            sku=item.product.sku,
            name=item.product.name,
            unit_price=money(item.product.price),
            quantity=item.quantity,
            line_total=money(item.product.price * item.quantity),
            available_stock=item.product.stock if item.product.is_active else 0,
            weight_grams=item.product.weight_grams,
            currency=item.product.currency,
        )
        for item in items
    ]
    return CartSummary(
        items=lines,
        subtotal=money(sum((line.line_total for line in lines), Decimal(0))),
        total_weight_grams=sum(line.weight_grams * line.quantity for line in lines),
        item_count=sum(line.quantity for line in lines),
    )


def cart_get(*, user) -> CartSummary:
    """The caller's cart; reading it never creates one."""
    return cart_summary(cart=Cart.objects.filter(user=user).first())


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
    """Find a coupon by code, ignoring case (codes are stored upper-case and unique ignoring case)."""
    coupon = Coupon.objects.filter(code__iexact=code.strip()).order_by("id").first()
    if coupon is None:
        raise ApplicationError(
            "coupon_not_found", f"No coupon {code.strip()!r}", extra={"code": code.strip()}
        )
    return coupon


def coupon_quote(*, code: str, subtotal: Decimal) -> CouponQuote:
    """Check a coupon against a subtotal now and say what it would take off."""
    coupon = coupon_get_by_code(code=code)
    coupon_check(coupon, subtotal=subtotal, now=timezone.now())
    discount = coupon_discount(kind=coupon.kind, value=coupon.value, subtotal=subtotal)
    return CouponQuote(coupon=coupon, discount=discount, subtotal=money(subtotal))


def coupon_quote_for_cart(*, user, code: str) -> CouponQuote:
    return coupon_quote(code=code, subtotal=cart_get(user=user).subtotal)


def coupon_list() -> QuerySet[Coupon]:
    return Coupon.objects.order_by("-created_at", "-id")


def _orders_with_details() -> QuerySet[Order]:
    return Order.objects.select_related("coupon").prefetch_related(
        "items", Prefetch("payments", queryset=Payment.objects.order_by("-created_at", "-id"))
    )


def order_list(*, user) -> QuerySet[Order]:
    """The caller's orders, newest first."""
    return _orders_with_details().filter(user=user)


def order_get(*, user, number: str) -> Order:
    """One of the caller's orders. Someone else's order is 404 like a missing one: numbers leak nothing."""
    order = (
        _orders_with_details().filter(user=user, number=number).first()
        if _ORDER_NUMBER.match(number)
        else None
    )
    if order is None:
        raise NotFoundError("order", number)
    return order
