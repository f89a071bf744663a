"""Checkout: check and price the cart, tokenize the card, then create the order (pending) and start its saga,
in one transaction; the saga does the rest (saga/engine.py).

Before anything is written: an empty cart, mixed currencies, no shipping rule, an unusable coupon are the
monolith's 400/422 answers, and the card is tokenized by the order's payment backend (its number lives only
in this request's memory). The Idempotency-Key makes the request safe to repeat: the order carries it
(unique per user) with an HMAC of the request, so a replay finds the order instead of paying again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts.errors import ApplicationError, ConflictError
from contracts.pricing import money

from ..catalog import products_get
from ..models import Cart, CartItem, Order, OrderItem
from ..participants.payments import (
    CardDetails,
    ParticipantUnavailable,
    TokenizeCard,
    choose_payment_adapter,
    payment_adapter,
)
from ..saga.engine import saga_start
from ..selectors import coupon_quote, shipping_quote
from .numbers import order_number_new
from .outcomes import checkout_error


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str


@dataclass(frozen=True)
class CheckoutResult:
    order: Order
    created: bool  # False when the Idempotency-Key replayed an earlier checkout


def checkout_request_hash(
    *, shipping: ShippingAddress, coupon_code: str | None, card: CardDetails, gateway: str
) -> str:
    """HMAC (SECRET_KEY) of what identifies the request: the CVC left out, the number unrecoverable."""
    canonical = {
        "shipping": asdict(shipping),
        "coupon_code": (coupon_code or "").strip().upper() or None,
        "gateway": gateway,
        "card": [card.number, card.exp_month, card.exp_year, card.holder],
    }
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(settings.SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()


def _order_for_key(*, user_id: int, idempotency_key: str) -> Order | None:
    return Order.objects.filter(user_id=user_id, idempotency_key=idempotency_key).first()


def replay(order: Order, *, request_hash: str) -> CheckoutResult:
    """A repeated key answers what the first request produced (never a second payment)."""
    if order.request_hash and not hmac.compare_digest(order.request_hash, request_hash):
        raise ConflictError(
            "idempotency_key_reused",
            "This Idempotency-Key was already used for a different checkout",
            extra={"order_number": order.number},
        )
    if order.status == Order.Status.PENDING_PAYMENT:
        raise ConflictError(
            "checkout_in_progress",
            "A checkout with this Idempotency-Key is still running; retry in a moment",
            extra={"order_number": order.number},
        )
    if order.status in (Order.Status.PAYMENT_FAILED, Order.Status.REJECTED):
        raise checkout_error(order)
    return CheckoutResult(order=order, created=False)


def order_checkout(
    *,
    user_id: int,
    idempotency_key: str,
    shipping: ShippingAddress,
    coupon_code: str | None,
    card: CardDetails,
    gateway: str | None,
    client_ip: str | None,
) -> CheckoutResult:
    """Create the order (pending) and start its saga; the caller waits for the outcome or not (v1/v2)."""
    gateway = gateway or settings.ORDER_PAYMENT_GATEWAYS[0]
    request_hash = checkout_request_hash(
        shipping=shipping, coupon_code=coupon_code, card=card, gateway=gateway
    )
    existing = _order_for_key(user_id=user_id, idempotency_key=idempotency_key)
    if existing is not None:
        return replay(existing, request_hash=request_hash)

    items = list(CartItem.objects.filter(cart__user_id=user_id).order_by("product_id"))
    if not items:
        raise ApplicationError("cart_empty", "The cart is empty: add a product before checking out")
    facts = products_get([item.product_id for item in items])
    unavailable = [item.product_id for item in items if facts.get(item.product_id) is None]
    if unavailable:
        raise ConflictError(
            "product_unavailable",
            f"Product {unavailable[0]} is not available for sale",
            extra={"product_id": unavailable[0]},
        )
    currencies = {facts[item.product_id].currency for item in items}
    if len(currencies) > 1:
        raise ApplicationError(
            "cart_mixed_currency",
            "Products priced in different currencies cannot be ordered together",
            extra={"currencies": sorted(currencies)},
        )
    lines = [(facts[item.product_id], item.quantity, money(facts[item.product_id].price)) for item in items]
    subtotal = money(sum((price * quantity for _, quantity, price in lines), Decimal(0)))
    weight = sum(product.weight_grams * quantity for product, quantity, _ in lines)
    quote = shipping_quote(country=shipping.country, postal_code=shipping.postal_code, weight_grams=weight)
    coupon, discount = None, Decimal("0.00")
    if coupon_code:
        terms = coupon_quote(code=coupon_code, subtotal=subtotal)
        coupon, discount = terms.coupon, terms.discount
    total = subtotal - discount + quote.price

    adapter = choose_payment_adapter(user_id=user_id)
    token = None
    if total > 0:
        try:
            token = payment_adapter(adapter).tokenize(
                TokenizeCard(card=card, gateway=gateway, user_id=user_id)
            )
        except ParticipantUnavailable as exc:
            raise ApplicationError(
                "payment_gateway_unavailable",
                "The payment provider could not be reached; the order was not placed, try again later",
                extra={"detail": str(exc)[:200]},
                status=503,
            ) from exc

    try:
        with transaction.atomic():
            cart = Cart.objects.select_for_update().filter(user_id=user_id).first()
            existing = _order_for_key(user_id=user_id, idempotency_key=idempotency_key)
            if existing is not None:  # a same-key request won while we priced: answer its outcome
                return replay(existing, request_hash=request_hash)
            now_in_cart = list(CartItem.objects.filter(cart=cart).order_by("product_id"))
            if [(i.product_id, i.quantity) for i in now_in_cart] != [
                (i.product_id, i.quantity) for i in items
            ]:
                raise ConflictError("cart_changed", "The cart changed during checkout; check it and retry")
            order = Order.objects.create(
                number=order_number_new(),
                user_id=user_id,
                status=Order.Status.PENDING_PAYMENT,
                origin=Order.Origin.SERVICE,
                currency=currencies.pop(),
                subtotal=subtotal,
                discount_total=discount,
                shipping_total=quote.price,
                total=total,
                coupon=coupon,
                coupon_code=coupon.code if coupon else "",
                shipping_name=shipping.name,
                shipping_line1=shipping.line1,
                shipping_city=shipping.city,
                shipping_postal_code=shipping.postal_code,
                shipping_country=shipping.country,
                shipping_carrier=quote.carrier,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                payment_adapter=adapter,
                payment_gateway=gateway if total > 0 else "",
                created_at=timezone.now(),
            )
            OrderItem.objects.bulk_create(
                OrderItem(
                    order=order,
                    product_id=product.id,
                    sku=product.sku,
                    name=product.name,
                    unit_price=price,
                    quantity=quantity,
                    line_total=money(price * quantity),
                    weight_grams=product.weight_grams,
                )
                for product, quantity, price in lines
            )
            CartItem.objects.filter(cart=cart).delete()
            context = {"client_ip": client_ip, "card": asdict(token) if token else {}}
            saga_start(order=order, context=context)
    except IntegrityError:
        existing = _order_for_key(user_id=user_id, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return replay(existing, request_hash=request_hash)
    return CheckoutResult(order=order, created=True)
