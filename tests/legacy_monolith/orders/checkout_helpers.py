"""Shared bits of the checkout and cancellation tests: a valid body, a cart, the stock and coupon state."""

import uuid
from decimal import Decimal

from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import CartItem, Coupon
from tests.factories import ProductFactory

from .factories import CartItemFactory

CHECKOUT = "/api/v1/orders/checkout"
APPROVED = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"
SHIPPING = {
    "name": "Ada Lovelace",
    "line1": "10 rue de Rivoli",
    "city": "Paris",
    "postal_code": "75001",
    "country": "FR",
}


def body(card=APPROVED, coupon_code=None, gateway="cardinal", **shipping):
    payload = {
        "shipping": {**SHIPPING, **shipping},
        "payment": {
            "gateway": gateway,
            "card": {
                "number": card,
                "exp_month": 12,
                "exp_year": 2030,
                "cvc": "123",
                "holder": "Ada Lovelace",
            },
        },
    }
    if coupon_code is not None:
        payload["coupon_code"] = coupon_code
    return payload


def checkout(client, payload=None, key=None):
    """POST /checkout with a fresh Idempotency-Key unless one is given."""
    return client.post(
        CHECKOUT,
        payload if payload is not None else body(),
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
    )


def fill_cart(user, *lines):
    """Put (price, quantity[, stock]) lines in the user's cart; returns the products."""
    products = []
    for price, quantity, *stock in lines:
        product = ProductFactory(price=Decimal(price), stock=stock[0] if stock else 10, weight_grams=400)
        CartItemFactory(cart__user=user, product=product, quantity=quantity)
        products.append(product)
    return products


def stock_of(product):
    return Product.objects.get(pk=product.pk).stock


def cart_of(user):
    return {i.product_id: i.quantity for i in CartItem.objects.filter(cart__user=user)}


def times_used(coupon):
    return Coupon.objects.get(pk=coupon.pk).times_used


def reasons_for(product, number):
    return [m.reason for m in StockMovement.objects.filter(product=product, reference=number).order_by("id")]
