"""What a caller (the Order service's saga) asks after the authorization: capture it, or take it back.

`payment_capture_request` and `payment_cancel_request` record the wish (`next_action`) and schedule the
task; the tasks call `payment_capture_now` / `payment_compensate`, which are idempotent: a capture of a
captured payment, a void of a voided one, a refund already made (same provider key) change nothing.
`payment_compensate` takes back whatever the payment holds: it stops a pending charge (and has the
provider checked if an authorization may already exist), voids an authorization, refunds a capture.
"""

from __future__ import annotations

from django.db import transaction

from ..errors import ConflictError
from ..models import Payment
from .state import payment_lock, payment_touch

S = Payment.Status


def _request(payment_id: int, action: str) -> Payment:
    from ..tasks import payment_cancel_enqueue, payment_capture_enqueue

    with transaction.atomic():
        payment = payment_lock(payment_id)
        if action == "capture" and payment.next_action == "void":
            raise ConflictError(
                "payment_cancelled",
                "This payment was cancelled; it cannot be captured",
                extra={"payment_id": payment_id},
            )
        if action == "capture" and payment.status in (S.VOIDED, S.DECLINED, S.REJECTED_FRAUD, S.FAILED):
            raise ConflictError(
                "payment_not_capturable",
                f"A {payment.status} payment cannot be captured",
                extra={"payment_id": payment_id, "status": payment.status},
            )
        if payment.next_action != action:
            payment.next_action = action
            payment_touch(payment, ["next_action"])
        (payment_capture_enqueue if action == "capture" else payment_cancel_enqueue)(payment.pk)
    return payment


def payment_capture_request(payment_id: int) -> Payment:
    return _request(payment_id, "capture")


def payment_cancel_request(payment_id: int) -> Payment:
    return _request(payment_id, "void")


def payment_compensate(payment_id: int) -> Payment:
    from .charges import payment_give_up, payment_void_now
    from .reconcile import payment_reconcile_one
    from .refunds import payment_refund

    payment = Payment.objects.get(pk=payment_id)
    if payment.status == S.PENDING:
        payment = payment_give_up(payment_id, reason="cancelled by the caller")
        if payment.attempts:  # an authorization may exist that we never heard of: ask now
            payment_reconcile_one(payment_id)
    elif payment.status == S.AUTHORIZED:
        payment_void_now(payment_id, actor="compensation", reason="cancelled by the caller")
    elif payment.status in (S.CAPTURED, S.PARTIALLY_REFUNDED):
        payment_refund(
            payment_id=payment_id,
            amount=None,
            reason="order not completed",
            idempotency_key=f"compensation-{payment.idempotency_key}",
            actor="compensation",
        )
    return Payment.objects.get(pk=payment_id)
