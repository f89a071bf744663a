"""Checkout: reserve in one transaction, charge outside any, settle in a third.

1. reserve: lock the cart, re-price it, quote shipping, apply the coupon, reserve the stock, redeem the
   coupon, write the order (pending_payment) and empty the cart: all or nothing.
2. charge: payment_charge over HTTP, holding no database lock.
3. settle: paid, or payment_failed with every step of 1 compensated (stock released, coupon use given
   back, cart restored) so the customer can fix the card and retry.

The Idempotency-Key makes the whole request safe to repeat: the order carries the key (unique per user)
and an HMAC of the request, so a replay finds the order instead of charging again.
"""

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from legacy_monolith.core.errors import ApplicationError, ConflictError
from legacy_monolith.payments.gateways import CardDetails
from legacy_monolith.payments.models import Payment
from legacy_monolith.payments.services import payment_charge

from ..models import Cart, CartItem, Order, OrderItem
from ..pricing import money
from ..selectors import coupon_quote, shipping_quote
from .compensation import (
    checkout_compensate,
    checkout_compensate_in_transaction,
    checkout_payment_error,
    checkout_refund_after_cancel,
)
from .coupons import coupon_redeem
from .locking import order_lock
from .numbers import order_number_new
from .stock import order_stock_release_at_service, order_stock_reserve


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
    """What identifies a checkout request, as an HMAC keyed with SECRET_KEY: the card number it covers
    cannot be brute-forced back out of the stored value. The CVC is left out altogether (never kept)."""
    canonical = {
        "shipping": asdict(shipping),
        "coupon_code": (coupon_code or "").strip().upper() or None,
        "gateway": gateway,
        "card": [card.digits, card.exp_month, card.exp_year, card.holder],
    }
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(settings.SECRET_KEY.encode(), payload, hashlib.sha256).hexdigest()


def order_checkout(
    *,
    user,
    idempotency_key: str,
    shipping: ShippingAddress,
    coupon_code: str | None,
    card: CardDetails,
    gateway: str | None,
    client_ip: str | None,
) -> CheckoutResult:
    """Turn the caller's cart into a paid order, or fail having put everything back."""
    gateway = gateway or settings.PAYMENT_DEFAULT_GATEWAY
    request_hash = checkout_request_hash(
        shipping=shipping, coupon_code=coupon_code, card=card, gateway=gateway
    )

    existing = _order_for_key(user=user, idempotency_key=idempotency_key)
    if existing is not None:
        return _replay(existing, request_hash=request_hash)
    try:
        order = _reserve(
            user=user,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            shipping=shipping,
            coupon_code=coupon_code,
        )
    except IntegrityError:
        # A concurrent request with the same key won the order_idempotency_per_user constraint.
        existing = _order_for_key(user=user, idempotency_key=idempotency_key)
        if existing is None:
            raise
        return _replay(existing, request_hash=request_hash)
    if isinstance(order, CheckoutResult):  # found under the cart lock: a replay after all
        return _replay(order.order, request_hash=request_hash)

    if order.total == 0:  # a coupon and free shipping covered everything: nothing to charge
        return CheckoutResult(order=_settle(order=order, payment=None), created=True)

    # Phase 2 runs outside any database transaction on purpose: the gateway may take seconds or time
    # out, and holding the cart, product and coupon row locks that long would stall other checkouts.
    try:
        payment = payment_charge(
            order=order,
            card=card,
            gateway=gateway,
            idempotency_key=f"charge-{order.number}",
            client_ip=client_ip,
        )
    except ApplicationError:
        checkout_compensate_in_transaction(order=order)
        raise
    return CheckoutResult(order=_settle(order=order, payment=payment), created=True)


def _order_for_key(*, user, idempotency_key: str) -> Order | None:
    return Order.objects.filter(user=user, idempotency_key=idempotency_key).first()


def _replay(order: Order, *, request_hash: str) -> CheckoutResult:
    """Answer a repeated key with what the first request produced; never charge again."""
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
    if order.status == Order.Status.PAYMENT_FAILED:
        raise checkout_payment_error(
            order=order, payment=order.payments.order_by("-created_at", "-id").first()
        )
    return CheckoutResult(order=order, created=False)


def _reserve(
    *, user, idempotency_key: str, request_hash: str, shipping: ShippingAddress, coupon_code: str | None
) -> Order | CheckoutResult:
    """Phase 1, all or nothing: the order exists with its stock and coupon taken, or nothing changed.
    Stock taken at the Product service (PRODUCT_STOCK_OWNER=service) is outside this transaction: it is
    given back when the transaction does not commit."""
    taken_at_service: list[str] = []
    try:
        return _reserve_in_transaction(
            user=user,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            shipping=shipping,
            coupon_code=coupon_code,
            taken_at_service=taken_at_service,
        )
    except BaseException:
        for number in taken_at_service:
            order_stock_release_at_service(number=number)
        raise


def _reserve_in_transaction(
    *,
    user,
    idempotency_key: str,
    request_hash: str,
    shipping: ShippingAddress,
    coupon_code: str | None,
    taken_at_service: list[str],
) -> Order | CheckoutResult:
    with transaction.atomic():
        cart = Cart.objects.select_for_update().filter(user=user).first()
        # Same-key requests queue on the cart lock; once we hold it, the winner's order is committed.
        existing = _order_for_key(user=user, idempotency_key=idempotency_key)
        if existing is not None:
            return CheckoutResult(order=existing, created=False)
        items = (
            list(CartItem.objects.filter(cart=cart).select_related("product").order_by("product_id"))
            if cart is not None
            else []
        )
        if not items:
            raise ApplicationError("cart_empty", "The cart is empty: add a product before checking out")
        currencies = {item.product.currency for item in items}
        if len(currencies) > 1:
            raise ApplicationError(
                "cart_mixed_currency",
                "Products priced in different currencies cannot be ordered together",
                extra={"currencies": sorted(currencies)},
            )

        # Re-priced from the products' current prices, whatever the cart showed earlier.
        lines = [(item.product, item.quantity, money(item.product.price)) for item in items]
        subtotal = money(sum((price * quantity for _, quantity, price in lines), Decimal(0)))
        weight = sum(product.weight_grams * quantity for product, quantity, _ in lines)
        quote = shipping_quote(
            country=shipping.country, postal_code=shipping.postal_code, weight_grams=weight
        )
        coupon, discount = None, Decimal("0.00")
        if coupon_code:
            coupon_terms = coupon_quote(code=coupon_code, subtotal=subtotal)
            coupon, discount = coupon_terms.coupon, coupon_terms.discount

        number = order_number_new()
        if order_stock_reserve(
            number=number, lines=[(product, quantity) for product, quantity, _ in lines], actor=user
        ):
            taken_at_service.append(number)
        order = Order.objects.create(
            number=number,
            user=user,
            status=Order.Status.PENDING_PAYMENT,
            currency=currencies.pop(),
            subtotal=subtotal,
            discount_total=discount,
            shipping_total=quote.price,
            total=subtotal - discount + quote.price,
            coupon=coupon,
            shipping_name=shipping.name,
            shipping_line1=shipping.line1,
            shipping_city=shipping.city,
            shipping_postal_code=shipping.postal_code,
            shipping_country=shipping.country,
            shipping_carrier=quote.carrier,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                product=product,
                sku=product.sku,
                name=product.name,
                unit_price=price,
                quantity=quantity,
                line_total=money(price * quantity),
            )
            for product, quantity, price in lines
        )
        if coupon is not None:
            coupon_redeem(coupon=coupon, order=order, user=user)
        CartItem.objects.filter(cart=cart).delete()
        return order


def _settle(*, order: Order, payment: Payment | None) -> Order:
    """Phase 3: record the outcome. Raises the payment error once the compensation is committed."""
    with transaction.atomic():
        order = order_lock(order.pk)
        cancelled_meanwhile = order.status != Order.Status.PENDING_PAYMENT
        if not cancelled_meanwhile and (payment is None or payment.status == Payment.Status.CAPTURED):
            order.status = Order.Status.PAID
            order.paid_at = timezone.now()
            order.save(update_fields=["status", "paid_at", "updated_at"])
            return order
        if not cancelled_meanwhile:
            checkout_compensate(order=order)
    if cancelled_meanwhile:
        checkout_refund_after_cancel(order=order, payment=payment)
    raise checkout_payment_error(order=order, payment=payment)
