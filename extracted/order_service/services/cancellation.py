"""Cancelling an order: a paid one is refunded in full first (its payment backend, keyed
`<number>:cancel`), then its stock and its coupon use go back and the order is cancelled.

The refund and the release are calls to other processes, made between two short transactions: if the refund
fails the order is untouched (still paid) and the caller gets 503; a repeated cancel finishes the job (the
backends answer the same refund and release again, never twice). A checkout still running is 409
`checkout_in_progress`.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from contracts.errors import ApplicationError, ConflictError

from ..models import Order, Saga
from ..participants.payments import ParticipantUnavailable, RefundPayment, payment_adapter
from ..participants.stock import stock_reference
from ..saga.local import _return_coupon, order_event
from ..saga.participants import _stock
from ..selectors import order_get

CANCELLABLE = {Order.Status.PENDING_PAYMENT, Order.Status.PAID}


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
    if order.status not in CANCELLABLE:
        raise ConflictError(
            "order_not_cancellable",
            f"An order that is {order.get_status_display().lower()} cannot be cancelled",
            extra={"number": order.number, "status": order.status},
        )
    saga = Saga.objects.filter(order=order).first()
    if saga is not None and saga.state in (Saga.State.RUNNING, Saga.State.COMPENSATING):
        raise ConflictError(
            "checkout_in_progress",
            "This order's checkout is still running; retry in a moment",
            extra={"order_number": order.number},
        )


def _unavailable(exc: Exception) -> ApplicationError:
    return ApplicationError(
        "payment_gateway_unavailable",
        "The payment gateway is unavailable; retry the cancellation",
        extra={"detail": str(exc)[:200]},
        status=503,
    )


def order_cancel(*, user_id: int, number: str) -> Order:
    order = order_get(user_id=user_id, number=number)
    _require_cancellable(order)
    saga = Saga.objects.filter(order=order).first()
    stock_owner = (saga.context.get("stock_owner") if saga else None) or None
    try:
        if order.status == Order.Status.PAID and order.payment_id:
            outcome = payment_adapter(order.payment_adapter or "monolith").refund(
                RefundPayment(
                    saga_id=str(saga.pk) if saga else "",
                    idempotency_key=f"{order.number}:cancel",
                    order_number=order.number,
                    payment_id=order.payment_id,
                    amount=Decimal(order.total),
                    currency=order.currency,
                    reason=f"order {order.number} cancelled by the customer",
                )
            )
            if outcome.refused:
                raise ConflictError(
                    "payment_not_refundable",
                    outcome.message or "The payment cannot be refunded",
                    extra={"payment_id": order.payment_id, "code": outcome.code},
                )
            order.payment_status = outcome.status or order.payment_status
        _stock({"owner": stock_owner}).release(reference=stock_reference(order.number))
    except ParticipantUnavailable as exc:
        raise _unavailable(exc) from exc
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        if locked.status == Order.Status.CANCELLED:
            return locked
        if saga is not None:
            _return_coupon(saga)
        locked.status, locked.cancelled_at = Order.Status.CANCELLED, timezone.now()
        locked.payment_status = order.payment_status
        locked.save()
        order_event(locked, "order.cancelled")
    return locked
