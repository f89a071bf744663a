"""payment_refund: refund all or part of a captured payment at its gateway."""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from legacy_monolith.core.errors import ApplicationError, ConflictError
from legacy_monolith.orders.models import Order

from ..gateways import GatewayRejected, GatewayUnavailable, gateway_client
from ..keys import scoped_key
from ..models import Payment, Refund

log = logging.getLogger(__name__)

REFUNDABLE = {Payment.Status.CAPTURED, Payment.Status.PARTIALLY_REFUNDED}
CENT = Decimal("0.01")


def payment_refund(
    *, payment: Payment, amount: Decimal | None, reason: str, actor, idempotency_key: str
) -> Refund:
    """Refund `amount` (default: what remains) once per idempotency key, and update the payment's and the
    order's status (refunded / partially_refunded). A replay returns the first Refund with
    `refund.replayed = True`. Pending refunds (the gateway settles later) count as refunded already, so two
    refunds can never exceed the payment; the webhook confirms them.
    """
    if not idempotency_key:
        raise ApplicationError("idempotency_key_required", "An Idempotency-Key is required to refund")
    key = scoped_key("refund", payment.pk, idempotency_key)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if amount is not None and Decimal(amount).quantize(CENT) != existing.amount:
                raise ConflictError(
                    "idempotency_key_reused",
                    "This idempotency key was used for a refund of another amount",
                    extra={"refund_id": existing.pk, "amount": str(existing.amount)},
                )
            existing.replayed = True
            return existing
        if payment.status not in REFUNDABLE:
            raise ConflictError(
                "payment_not_refundable",
                f"A {payment.status} payment cannot be refunded",
                extra={"payment_id": payment.pk, "status": payment.status},
            )
        remaining = payment.amount - payment.amount_refunded
        amount = remaining if amount is None else Decimal(amount).quantize(CENT)
        if amount <= 0:
            raise ApplicationError("refund_amount_invalid", "A refund amount must be positive")
        if amount > remaining:
            raise ApplicationError(
                "refund_exceeds_payment",
                f"Only {remaining} of this payment remains to refund",
                extra={"requested": str(amount), "remaining": str(remaining)},
            )
        try:
            client = gateway_client(payment.gateway)
            result = client.refund(
                charge_ref=payment.gateway_ref,
                amount=amount,
                currency=payment.currency,
                reference=key,
                reason=reason,
                idempotency_key=f"{key}:refund",
            )
        except GatewayUnavailable as exc:
            raise ApplicationError(
                "payment_gateway_unavailable",
                "The payment gateway is unavailable; retry with the same Idempotency-Key",
                extra={"gateway": payment.gateway},
                status=503,
            ) from exc
        except GatewayRejected as exc:
            raise ApplicationError(
                "payment_gateway_rejected",
                f"The payment gateway refused the refund: {exc.message}",
                extra={"gateway": payment.gateway, "gateway_code": exc.code},
                status=502,
            ) from exc
        refund = Refund.objects.create(
            payment=payment,
            amount=amount,
            reason=reason[:200],
            status=Refund.Status.SUCCEEDED if result.status == "succeeded" else Refund.Status.PENDING,
            gateway_ref=result.ref,
            idempotency_key=key,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        payment.amount_refunded += amount
        payment.status = (
            Payment.Status.REFUNDED
            if payment.amount_refunded >= payment.amount
            else Payment.Status.PARTIALLY_REFUNDED
        )
        payment.save(update_fields=["amount_refunded", "status", "updated_at"])
        order_status_follow_payment(payment)
    log.info(
        "payment refunded", extra={"payment_id": payment.pk, "refund_id": refund.pk, "status": refund.status}
    )
    refund.replayed = False
    return refund


def order_status_follow_payment(payment: Payment) -> None:
    """The order shows what happened to its money: refunded / partially_refunded (or paid again)."""
    status = {
        Payment.Status.REFUNDED: Order.Status.REFUNDED,
        Payment.Status.PARTIALLY_REFUNDED: Order.Status.PARTIALLY_REFUNDED,
        Payment.Status.CAPTURED: Order.Status.PAID,
    }.get(payment.status)
    if status is not None:
        Order.objects.filter(pk=payment.order_id).update(status=status, updated_at=timezone.now())
