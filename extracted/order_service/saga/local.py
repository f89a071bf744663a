"""The saga's local steps (this service's own tables, run inline under the saga's row lock), the payloads of
its remote commands, and what a participant's result changes on the order."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from chassis.outbox.writer import outbox_write
from contracts.pricing import MAX_LINE_QUANTITY

from ..documents import order_document
from ..models import Cart, CartItem, Coupon, CouponRedemption, Order, Saga
from ..participants.stock import stock_reference


def order_event(order: Order, event_type: str) -> None:
    """Bump the order's version and publish its document (outbox, same transaction)."""
    table = connection.ops.quote_name(Order._meta.db_table)
    with connection.cursor() as cursor:  # one round trip: UPDATE ... RETURNING (PostgreSQL, SQLite 3.35+)
        cursor.execute(
            f"UPDATE {table} SET version = version + 1 WHERE id = %s RETURNING version",  # noqa: S608
            [order.pk],
        )
        (order.version,) = cursor.fetchone()
    outbox_write(event_type, order_document(order))


def run_step(saga: Saga, step: str) -> dict | None:
    """Run a local step; a refusal (code, message, extra) or None when done."""
    return {
        "redeem_coupon": _redeem_coupon,
        "confirm_order": _confirm_order,
        "return_coupon": _return_coupon,
        "fail_order": _fail_order,
    }[step](saga)


def _redeem_coupon(saga: Saga) -> dict | None:
    """One use, counted by a conditional UPDATE (times_used < usage_limit): the limit is never passed,
    however many checkouts race for the last use; the redemption row makes a repeat a no-op."""
    order = saga.order
    if CouponRedemption.objects.filter(order=order).exists():
        return None
    claimed = (
        Coupon.objects.filter(pk=order.coupon_id, is_active=True)
        .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
        .update(times_used=F("times_used") + 1)
    )
    if not claimed:
        coupon = Coupon.objects.get(pk=order.coupon_id)
        return {
            "code": "coupon_exhausted" if coupon.is_active else "coupon_inactive",
            "message": f"Coupon {coupon.code} has been used the maximum number of times"
            if coupon.is_active
            else f"Coupon {coupon.code} is no longer offered",
            "extra": {"code": coupon.code, "usage_limit": coupon.usage_limit},
        }
    CouponRedemption.objects.create(coupon_id=order.coupon_id, order=order, user_id=order.user_id)
    return None


def _return_coupon(saga: Saga) -> None:
    redemption = CouponRedemption.objects.select_for_update().filter(order=saga.order).first()
    if redemption is not None:
        Coupon.objects.filter(pk=redemption.coupon_id, times_used__gt=0).update(
            times_used=F("times_used") - 1
        )
        redemption.delete()


def _confirm_order(saga: Saga) -> None:
    """The point of no return: from here the saga only moves forward (capture is retried until it lands)."""
    saga.context = {**saga.context, "confirmed_at": timezone.now().isoformat()}


def _fail_order(saga: Saga) -> None:
    """Fail the order with its reason, put its lines back in the cart (merged with what is there)."""
    order = Order.objects.select_for_update().get(pk=saga.order_id)
    if order.status not in (Order.Status.PENDING_PAYMENT,):
        return None
    paid_step = saga.context.get("payment_reached", False)
    order.status = Order.Status.PAYMENT_FAILED if paid_step else Order.Status.REJECTED
    order.failure_code, order.failure_message = saga.failure_code, saga.failure_message
    order.failure_extra = saga.context.get("failure_extra") or {}
    order.save()
    cart, _ = Cart.objects.get_or_create(user_id=order.user_id)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    for item in order.items.all():
        line, created = CartItem.objects.get_or_create(
            cart=cart, product_id=item.product_id, defaults={"quantity": item.quantity}
        )
        if not created:
            line.quantity = min(line.quantity + item.quantity, MAX_LINE_QUANTITY)
            line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    order_event(order, "order.failed")
    return None


def _payment_fields(saga: Saga) -> dict:
    payment = saga.context.get("payment") or {}
    order = saga.order
    return {
        "adapter": order.payment_adapter,
        "order_number": order.number,
        "payment_id": payment.get("payment_id", ""),
        "amount": str(order.total),
        "currency": order.currency,
        "deadline": saga.deadline.isoformat(),
    }


def command_payload(saga: Saga) -> dict:
    order, step = saga.order, saga.step
    number = order.number
    if step in ("reserve_stock", "release_stock"):
        owner = saga.context.get("stock_owner")
        if owner is None:  # decided once, at the first reserve: the release goes to the same owner
            owner = settings.PRODUCT_STOCK_OWNER
            saga.context = {**saga.context, "stock_owner": owner}
        return {
            "reference": stock_reference(number),
            "owner": owner,
            "lines": [{"product_id": i.product_id, "quantity": i.quantity} for i in order.items.all()],
        }
    fields = _payment_fields(saga)
    if step == "authorize_payment":
        return {
            **fields,
            "idempotency_key": f"{number}:authorize",
            "order": order_document(order),
            "card": saga.context.get("card", {}),
            "client_ip": saga.context.get("client_ip"),
        }
    if step == "capture_payment":
        return {**fields, "idempotency_key": f"{number}:capture"}
    reason = saga.failure_message or saga.failure_code or "checkout failed"
    if step == "void_payment":
        return {
            **fields,
            "idempotency_key": f"{number}:void",
            "authorize_key": f"{number}:authorize",
            "reason": reason,
        }
    if step == "refund_payment":
        return {**fields, "idempotency_key": f"{number}:refund", "reason": reason}
    raise ValueError(f"no command for step {step!r}")


def record_result(saga: Saga, step: str, outcome: str, result: dict) -> None:
    """What a participant's answer changes: the stock owner it reserved with, the payment the order shows."""
    if step in ("authorize_payment", "capture_payment", "void_payment", "refund_payment"):
        payment = {**(saga.context.get("payment") or {}), **{k: v for k, v in result.items() if v}}
        saga.context = {**saga.context, "payment": payment}
        order = Order.objects.select_for_update().get(pk=saga.order_id)
        order.payment_id = str(payment.get("payment_id") or order.payment_id)
        order.payment_status = str(payment.get("status") or order.payment_status)
        order.payment_gateway = str(payment.get("gateway") or order.payment_gateway)
        order.card_brand = str(payment.get("card_brand") or order.card_brand)
        order.card_last4 = str(payment.get("card_last4") or order.card_last4)
        if (
            step == "capture_payment"
            and outcome == "captured"
            and order.status == Order.Status.PENDING_PAYMENT
        ):
            order.status, order.paid_at = Order.Status.PAID, timezone.now()
            order.save()
            order_event(order, "order.confirmed")
            return
        order.save()
