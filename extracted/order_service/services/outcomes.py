"""What a failed checkout is answered with: the monolith's errors for the same causes, the same on every
replay of the Idempotency-Key (payment refusals 402, the provider unavailable 503, stock 409, coupon 400)."""

from __future__ import annotations

from contracts.errors import ApplicationError

from ..models import Order

STOCK_CODES = frozenset({"out_of_stock", "product_unavailable"})


def checkout_error(order: Order) -> ApplicationError:
    code, message = order.failure_code, order.failure_message
    extra = dict(order.failure_extra or {})
    outcome = extra.pop("outcome", "")
    payment = {"order_number": order.number, "payment_id": order.payment_id or None}
    if outcome == "declined":
        return ApplicationError(
            "payment_declined",
            "The card was declined" + (f" ({message})" if message else ""),
            extra={**payment, "decline_code": code},
            status=402,
        )
    if outcome == "rejected_fraud":
        return ApplicationError(
            "payment_rejected_fraud", "The payment was refused by our fraud checks", extra=payment, status=402
        )
    if code in STOCK_CODES:
        return ApplicationError(code, message, extra=extra, status=409)
    if code.startswith("coupon_"):
        return ApplicationError(code, message, extra=extra, status=400)
    return ApplicationError(
        "payment_gateway_unavailable",
        "The payment provider could not complete the charge; the order was not placed, try again later",
        extra=payment,
        status=503,
    )
