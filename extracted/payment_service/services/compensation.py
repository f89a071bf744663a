"""What a caller (the Order service's saga) asks after the authorization: capture it, or take it back.

`payment_capture_request` and `payment_cancel_request` record the wish (`next_action`) and schedule the
task; the tasks call `payment_capture_now` / `payment_compensate`, which are idempotent: a capture of a
captured payment, a void of a voided one, a refund already made (same provider key) change nothing.
`payment_compensate` takes back whatever the payment holds: it stops a pending charge (and has the
provider checked if an authorization may already exist), voids an authorization, refunds a capture.

`payment_void_by_key` is the void of a caller that never heard back from its authorization (it knows the
authorization's idempotency key, not a payment id): under a PostgreSQL advisory lock on that key, which
`payment_create` takes too, it cancels the payment if it exists, and otherwise leaves an
`AuthorizationVoid`, so that the authorization, arriving late, is recorded voided and charges nothing.
Either the charge's insert or the void goes first; never both unseen by the other.
"""

from __future__ import annotations

from django.db import connection, transaction

from ..errors import ConflictError
from ..models import AuthorizationVoid, Payment
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


def void_key(order_number: str, authorize_key: str) -> str:
    """The tombstone's key of an authorization: its order number and its (unscoped) idempotency key."""
    return f"{order_number}|{authorize_key}"[:160]


def one_at_a_time(key: str) -> None:
    """Serialize a charge's insert and the void by key that compensates it until the transaction ends
    (PostgreSQL; SQLite, the embedded profile, runs one write transaction at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"payment-void:{key}"])


def voided_before(order_number: str, authorize_key: str) -> bool:
    """Whether a void by key came first (the caller holds `one_at_a_time` on the same key)."""
    return AuthorizationVoid.objects.filter(key=void_key(order_number, authorize_key)).exists()


def payment_void_by_key(*, order_number: str, authorize_key: str, reason: str) -> list[Payment]:
    """Cancel the order's payments charged with `authorize_key`; none yet: a tombstone, so that the charge
    is voided when it arrives. Returns the payments asked to cancel (empty: nothing was charged)."""
    from .charges import scoped_key

    with transaction.atomic():
        one_at_a_time(void_key(order_number, authorize_key))
        ids = [
            payment.pk
            for payment in Payment.objects.filter(order_number=order_number).only(
                "pk", "user_id", "idempotency_key"
            )
            if payment.idempotency_key == scoped_key("charge", payment.user_id, authorize_key)
        ]
        if not ids:
            AuthorizationVoid.objects.get_or_create(
                key=void_key(order_number, authorize_key), defaults={"reason": reason[:200]}
            )
            return []
    return [payment_cancel_request(payment_id) for payment_id in ids]


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
