"""Cancelling an order: refund a paid one in full first, then return its stock and its coupon use.

The refund is an HTTP call, so it runs between two short transactions rather than inside one. If it
fails the order is untouched (still paid) and the caller gets the gateway error. If the process dies
after the refund, the order is left "refunded" with the cancellation's own refund on record, and
cancelling again finishes the job instead of refusing it.
"""

from django.db import transaction
from django.utils import timezone

from legacy_monolith.core.errors import ConflictError
from legacy_monolith.payments.keys import scoped_key
from legacy_monolith.payments.models import Payment, Refund
from legacy_monolith.payments.services import payment_refund

from ..models import Order
from ..selectors import order_get
from .coupons import coupon_redemption_undo
from .locking import order_lock
from .stock import order_stock_release

CANCELLABLE = {Order.Status.PENDING_PAYMENT, Order.Status.PAID}


def _refund_key(order: Order) -> str:
    return f"cancel-{order.number}"


def _cancel_refunded_already(order: Order) -> bool:
    """A refunded order whose refund is this cancellation's own: an interrupted cancel to finish.
    (payment_refund stores the caller's key scoped to the payment, hence scoped_key.)"""
    if order.status != Order.Status.REFUNDED:
        return False
    own_keys = [scoped_key("refund", payment.pk, _refund_key(order)) for payment in order.payments.all()]
    return Refund.objects.filter(
        idempotency_key__in=own_keys, status__in=[Refund.Status.SUCCEEDED, Refund.Status.PENDING]
    ).exists()


def _require_cancellable(order: Order) -> None:
    if order.status == Order.Status.CANCELLED:
        raise ConflictError(
            "order_already_cancelled",
            f"Order {order.number} is already cancelled",
            extra={
                "number": order.number,
                "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
            },
        )
    if order.status not in CANCELLABLE and not _cancel_refunded_already(order):
        raise ConflictError(
            "order_not_cancellable",
            f"An order that is {order.get_status_display().lower()} cannot be cancelled",
            extra={"number": order.number, "status": order.status},
        )


def order_cancel(*, user, number: str) -> Order:
    """Cancel one of the caller's orders (pending_payment or paid). 409 when it is past that."""
    order = order_get(user=user, number=number)
    with transaction.atomic():
        order = order_lock(order.pk)
        _require_cancellable(order)
        seen_status = order.status

    if seen_status == Order.Status.PAID:
        payment = order.payments.filter(status=Payment.Status.CAPTURED).order_by("-created_at", "-id").first()
        if payment is not None:
            # Raises (503 payment_gateway_unavailable, 409 payment_not_refundable) with the order still paid.
            payment_refund(
                payment=payment,
                amount=None,
                reason=f"order {order.number} cancelled by the customer",
                actor=user,
                idempotency_key=_refund_key(order),
            )

    with transaction.atomic():
        order = order_lock(order.pk)
        # The payment settled while we looked: start over, this time with the refund (at most once,
        # since a paid order never goes back to pending_payment).
        restart = order.status == Order.Status.PAID and seen_status == Order.Status.PENDING_PAYMENT
        if not restart:
            _require_cancellable(order)
            order_stock_release(
                order=order,
                lines=[(item.product_id, item.quantity) for item in order.items.order_by("product_id")],
                actor=user,
            )
            coupon_redemption_undo(order=order)
            order.status = Order.Status.CANCELLED
            order.cancelled_at = timezone.now()
            order.save(update_fields=["status", "cancelled_at", "updated_at"])
    if restart:
        return order_cancel(user=user, number=number)
    return order
