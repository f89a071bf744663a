"""What a checkout does when its payment does not go through: put back everything phase 1 took (stock,
coupon use, cart lines), and the error the customer gets, the same on every replay of the key."""

from django.db import transaction

from legacy_monolith.core.errors import ApplicationError, ConflictError
from legacy_monolith.payments.models import Payment
from legacy_monolith.payments.services import payment_refund

from ..models import Cart, CartItem, Order, OrderItem
from ..pricing import MAX_LINE_QUANTITY
from .coupons import coupon_redemption_undo
from .locking import order_lock
from .stock import order_stock_release


def checkout_refund_after_cancel(*, order: Order, payment: Payment | None) -> None:
    """The customer cancelled (stock already back) while the charge ran: give a captured charge back."""
    refunded = False
    if payment is not None and payment.status == Payment.Status.CAPTURED:
        payment_refund(
            payment=payment,
            amount=None,
            reason="order cancelled during checkout",
            actor=None,
            idempotency_key=f"refund-{order.number}-cancelled-during-checkout",
        )
        refunded = True
        with transaction.atomic():
            # payment_refund makes the order follow its payment ("refunded"); it stays cancelled.
            order = order_lock(order.pk)
            if order.cancelled_at is not None and order.status != Order.Status.CANCELLED:
                order.status = Order.Status.CANCELLED
                order.save(update_fields=["status", "updated_at"])
    raise ConflictError(
        "order_cancelled",
        "The order was cancelled while its payment was running"
        + ("; the charge has been refunded" if refunded else ""),
        extra={"order_number": order.number, "refunded": refunded},
    )


def checkout_compensate_in_transaction(*, order: Order) -> None:
    """Compensate when payment_charge itself refused to run (an ApplicationError), unless settled already."""
    with transaction.atomic():
        order = order_lock(order.pk)
        if order.status == Order.Status.PENDING_PAYMENT:
            checkout_compensate(order=order)


def checkout_compensate(*, order: Order) -> None:
    """Undo phase 1 for an order whose payment failed; the caller holds the order's row lock."""
    items = list(order.items.order_by("product_id"))
    order_stock_release(
        order=order,
        lines=[(item.product_id, item.quantity) for item in items],
        actor=order.user,
        deferred=True,
    )
    coupon_redemption_undo(order=order)
    cart_restore(user=order.user, items=items)
    order.status = Order.Status.PAYMENT_FAILED
    order.save(update_fields=["status", "updated_at"])


def cart_restore(*, user, items: list[OrderItem]) -> None:
    """Put the order's lines back in the cart, merged with whatever the customer added meanwhile."""
    cart, _ = Cart.objects.get_or_create(user=user)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    for item in items:
        line, created = CartItem.objects.get_or_create(
            cart=cart, product_id=item.product_id, defaults={"quantity": item.quantity}
        )
        if not created:
            line.quantity = min(line.quantity + item.quantity, MAX_LINE_QUANTITY)
            line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])


def checkout_payment_error(*, order: Order, payment: Payment | None) -> ApplicationError:
    """The error a failed payment is answered with (the same on a replay of the key)."""
    extra = {"order_number": order.number, "payment_id": payment.id if payment else None}
    status = payment.status if payment else Payment.Status.FAILED
    if status == Payment.Status.DECLINED:
        return ApplicationError(
            "payment_declined",
            "The card was declined" + (f" ({payment.failure_message})" if payment.failure_message else ""),
            extra={**extra, "decline_code": payment.failure_code},
            status=402,
        )
    if status == Payment.Status.REJECTED_FRAUD:
        return ApplicationError(
            "payment_rejected_fraud", "The payment was refused by our fraud checks", extra=extra, status=402
        )
    return ApplicationError(
        "payment_gateway_unavailable",
        "The payment provider could not complete the charge; the order was not placed, try again later",
        extra=extra,
        status=503,
    )
