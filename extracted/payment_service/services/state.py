"""One way to change a payment: `payment_transition` applies a new status under the row lock, refuses to
go backwards, and in the same transaction bumps the sync version, writes the audit entry and the outbox
event. Everything else in services/ goes through it, so no state change escapes the audit trail or the
events, and a late or repeated answer (a webhook after the API answer, a redelivered task) cannot undo a
later state.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from chassis.outbox.writer import outbox_write
from contracts import payment as contract
from contracts.errors import NotFoundError

from ..audit import audit_record
from ..keys import ref_digest
from ..models import Payment

S = Payment.Status
# Progress of a payment's money: a transition may only move forward. Failures end a pending payment;
# a void ends an authorized one.
RANK = {
    S.PENDING: 0,
    S.AUTHORIZED: 1,
    S.CAPTURED: 2,
    S.PARTIALLY_REFUNDED: 3,
    S.REFUNDED: 4,
    S.DECLINED: 9,
    S.REJECTED_FRAUD: 9,
    S.FAILED: 9,
    S.VOIDED: 9,
}
# The settled ones a reconciliation may still correct (the provider knows better than our record).
CORRECTABLE = {S.FAILED}
EVENTS = {
    S.AUTHORIZED: contract.PAYMENT_AUTHORIZED,
    S.CAPTURED: contract.PAYMENT_CAPTURED,
    S.DECLINED: contract.PAYMENT_FAILED,
    S.REJECTED_FRAUD: contract.PAYMENT_FAILED,
    S.FAILED: contract.PAYMENT_FAILED,
    S.VOIDED: contract.PAYMENT_VOIDED,
    S.REFUNDED: contract.PAYMENT_REFUNDED,
    S.PARTIALLY_REFUNDED: contract.PAYMENT_REFUNDED,
}


def payment_lock(payment_id: int) -> Payment:
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("payment", payment_id)
    return payment


def may_move(current: str, new: str, *, correction: bool = False) -> bool:
    if current == new:
        return False
    if correction and current in CORRECTABLE:
        return True
    return RANK[new] > RANK[current] and RANK[current] < 9


def payment_event(payment: Payment, event_type: str, **extra: Any) -> None:
    """The outbox row of a `payment.*` event for this payment (inside the caller's transaction)."""
    outbox_write(
        event_type,
        contract.event_data(
            payment_id=payment.pk,
            order_number=payment.order_number,
            user_id=payment.user_id,
            status=payment.status,
            amount=payment.amount,
            amount_refunded=payment.amount_refunded,
            currency=payment.currency,
            gateway=payment.gateway,
            card_brand=payment.card_brand,
            card_last4=payment.card_last4,
            fraud_score=payment.fraud_score,
            failure_code=payment.failure_code,
            **extra,
        ),
    )


def payment_touch(payment: Payment, fields: list[str]) -> None:
    """Save `fields` with a new sync version and updated_at (the caller holds the row lock)."""
    payment.updated_at = timezone.now()
    payment.version += 1
    if "gateway_ref" in fields:
        payment.gateway_ref_digest = ref_digest(payment.gateway, payment.gateway_ref)
        fields = [*fields, "gateway_ref_digest"]
    payment.save(update_fields=[*dict.fromkeys([*fields, "version", "updated_at"])])
    payment_synced(payment)


def payment_synced(payment: Payment) -> None:
    """A payment this service owns changed: the monolith's copy follows (`sync payments follow` fetches
    the document; the event carries no provider reference)."""
    if payment.origin == Payment.Origin.SERVICE:
        outbox_write(contract.PAYMENT_SYNCED, {"payment_id": payment.pk, "version": payment.version})


def payment_transition(
    payment_id: int,
    status: str,
    *,
    audit_event: str | None = None,
    actor: str = "",
    correction: bool = False,
    emit: bool = True,
    event_extra: dict[str, Any] | None = None,
    audit_data: dict[str, Any] | None = None,
    **fields: Any,
) -> tuple[Payment, bool]:
    """Move payment `payment_id` to `status` with `fields`, if that is forward. Returns (payment, moved).
    A refused move still saves nothing; the caller sees `moved=False` and the current state."""
    with transaction.atomic():
        payment = payment_lock(payment_id)
        if not may_move(payment.status, status, correction=correction):
            return payment, False
        previous = payment.status
        payment.status = status
        for name, value in fields.items():
            setattr(payment, name, value)
        payment_touch(payment, ["status", *fields])
        audit_record(
            event=audit_event or f"payment.{status}",
            payment_id=payment.pk,
            actor=actor,
            data={"from": previous, "to": status, **(audit_data or {})},
        )
        if emit and status in EVENTS:
            payment_event(payment, EVENTS[status], **(event_extra or {}))
    return payment, True
