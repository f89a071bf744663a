"""payment_refund: refund all or part of a captured payment at its provider, once per idempotency key.

As in the monolith: a replay returns the first refund (`replayed`), a pending refund (the provider settles
later, northpay) already counts as refunded so two refunds can never exceed the payment, and the webhook
confirms or fails it. Provider keys derive from the payment id and the client's key exactly as the
monolith derives them, so one refund request sent to both sides is one refund at the provider.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from contracts import payment as contract

from ..errors import ApplicationError, ConflictError
from ..keys import ref_digest
from ..models import Payment, Refund
from ..providers import ProviderRejected, ProviderUnavailable, provider
from .charges import scoped_key
from .state import payment_event, payment_lock, payment_touch

log = logging.getLogger(__name__)
CENT = Decimal("0.01")
REFUNDABLE = {Payment.Status.CAPTURED, Payment.Status.PARTIALLY_REFUNDED}


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    replayed: bool


def payment_refund(
    *,
    payment_id: int,
    amount: Decimal | None,
    reason: str,
    idempotency_key: str,
    actor_id: int | None = None,
    actor: str = "",
) -> RefundOutcome:
    """Refund `amount` (default: what remains). 503 `payment_gateway_unavailable` when the provider did
    not answer (retry with the same key), 502 `payment_gateway_rejected` when it refused."""
    if not idempotency_key:
        raise ApplicationError("idempotency_key_required", "An Idempotency-Key is required to refund")
    key = scoped_key("refund", payment_id, idempotency_key)
    with transaction.atomic():
        payment = payment_lock(payment_id)
        existing = Refund.objects.filter(idempotency_key=key).first()
        if existing is not None:
            if amount is not None and Decimal(amount).quantize(CENT) != existing.amount:
                raise ConflictError(
                    "idempotency_key_reused",
                    "This idempotency key was used for a refund of another amount",
                    extra={"refund_id": existing.pk, "amount": str(existing.amount)},
                )
            return RefundOutcome(existing, True)
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
            result = provider(payment.gateway).refund(
                charge_ref=payment.gateway_ref,
                amount=amount,
                currency=payment.currency,
                reference=key,
                reason=reason,
                idempotency_key=f"{key}:refund",
            )
        except ProviderUnavailable as exc:
            raise ApplicationError(
                "payment_gateway_unavailable",
                "The payment gateway is unavailable; retry with the same Idempotency-Key",
                extra={"gateway": payment.gateway},
                status=503,
            ) from exc
        except ProviderRejected as exc:
            raise ApplicationError(
                "payment_gateway_rejected",
                f"The payment gateway refused the refund: {exc.message}",
                extra={"gateway": payment.gateway, "gateway_code": exc.code},
                status=502,
            ) from exc
        refund = refund_record(
            payment,
            amount=amount,
            reason=reason,
            key=key,
            gateway_ref=result.ref,
            succeeded=result.status == "succeeded",
            actor_id=actor_id,
            actor=actor,
        )
    from .webhooks import webhook_apply_deferred

    webhook_apply_deferred(payment)
    log.info("payment refunded", extra={"payment_id": payment.pk, "refund_id": refund.pk})
    return RefundOutcome(refund, False)


def refund_record(
    payment: Payment,
    *,
    amount: Decimal,
    reason: str,
    key: str,
    gateway_ref: str,
    succeeded: bool,
    actor_id: int | None = None,
    actor: str = "",
    correction: bool = False,
) -> Refund:
    """Write a refund the provider accepted, and the payment's new balance and status (caller holds the
    payment's row lock): audited, and a `payment.refunded` event."""
    from ..audit import audit_record

    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason[:200],
        status=Refund.Status.SUCCEEDED if succeeded else Refund.Status.PENDING,
        gateway_ref=gateway_ref,
        gateway_ref_digest=ref_digest(payment.gateway, gateway_ref),
        idempotency_key=key,
        actor_id=actor_id,
        created_at=timezone.now(),
    )
    previous = payment.status
    payment.amount_refunded += amount
    payment.status = (
        Payment.Status.REFUNDED
        if payment.amount_refunded >= payment.amount
        else Payment.Status.PARTIALLY_REFUNDED
    )
    fields = ["amount_refunded", "status"]
    if correction:
        payment.reconciled_at, payment.outcome_unknown = timezone.now(), False
        fields += ["reconciled_at", "outcome_unknown"]
    payment_touch(payment, fields)
    audit_record(
        event="payment.reconciled_refund" if correction else "payment.refunded",
        payment_id=payment.pk,
        actor=actor,
        data={"from": previous, "to": payment.status, "refund_id": refund.pk, "amount": f"{amount:.2f}"},
    )
    payment_event(payment, contract.PAYMENT_REFUNDED, refund_id=refund.pk, refund_amount=amount)
    return refund
