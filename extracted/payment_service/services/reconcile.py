"""The reconciler: ask the provider about every payment our records leave open or unsure, and settle it.

Candidates: pending or authorized payments untouched for PAYMENT_RECONCILE_AFTER_SECONDS (a lost worker,
a lost answer, a lost webhook), and failed payments whose outcome is unknown (a timeout we gave up on).
For each, the provider is asked what the payment's own authorize key did:
- nothing: a pending payment past its deadline fails; before it, its processing is scheduled again;
- authorized or captured while we are still pending: adopted (before the deadline), else given back;
- a charge the provider holds for a payment we recorded FAILED: voided (authorized) or refunded
  (captured), automatically and audited (`payment.reconciled_void` / `payment.reconciled_refund`): the
  case the monolith only logs.
Deferred webhooks whose payment is now known are applied. `payments reconcile --dry-run` reports what it
would do and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..models import Payment, WebhookEvent
from ..providers import ProviderRejected, ProviderUnavailable, RefundResult, provider
from .state import payment_lock, payment_touch, payment_transition

log = logging.getLogger(__name__)
S = Payment.Status


@dataclass
class ReconcileReport:
    checked: int = 0
    actions: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False
    details: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "checked": self.checked,
            "actions": dict(sorted(self.actions.items())),
            "errors": self.errors,
            "dry_run": self.dry_run,
            "details": self.details,
        }


def reconcile_candidates(*, since: dt.datetime | None = None, now: dt.datetime | None = None):
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    open_ = Q(status__in=[S.PENDING, S.AUTHORIZED], updated_at__lte=stale)
    unsure = Q(status=S.FAILED, outcome_unknown=True)
    payments = Payment.objects.filter(open_ | unsure, origin=Payment.Origin.SERVICE)
    if since is not None:
        payments = payments.filter(updated_at__gte=since)
    return payments.order_by("id")


def payments_reconcile(
    *, since: dt.datetime | None = None, dry_run: bool = False, limit: int | None = None, progress=None
) -> ReconcileReport:
    report = ReconcileReport(dry_run=dry_run)
    ids = list(reconcile_candidates(since=since).values_list("id", flat=True)[:limit])
    for payment_id in ids:
        report.checked += 1
        try:
            action = payment_reconcile_one(payment_id, dry_run=dry_run)
        except (ProviderUnavailable, ProviderRejected) as exc:
            action = "provider_unavailable"
            report.errors.append(f"payment {payment_id}: {exc}")
        report.actions[action] += 1
        if action != "nothing":
            report.details.append({"payment_id": payment_id, "action": action})
        if progress is not None:
            progress(1)
    if not dry_run:
        report.actions["deferred_webhooks_applied"] += _deferred_webhooks()
    return report


def payment_reconcile_one(payment_id: int, *, dry_run: bool = False) -> str:
    """Settle one payment from the provider's own record; returns the action taken (or that would be)."""
    payment = Payment.objects.get(pk=payment_id)
    now = timezone.now()
    past_deadline = payment.deadline is not None and now >= payment.deadline
    client = provider(payment.gateway)
    # The provider renders the charge as it is now: a capture or void made later shows in this answer.
    found = client.lookup(idempotency_key=f"{payment.idempotency_key}:authorize")
    if isinstance(found, RefundResult):  # pragma: no cover - our authorize key never names a refund
        found = None
    if found is not None and not payment.gateway_ref:
        payment.gateway_ref = found.ref
    status = found.status if found is not None else None

    if payment.status == S.FAILED:
        if status == "captured":
            return "would_refund" if dry_run else _give_back(payment, client, refund=True)
        if status == "authorized":
            return "would_void" if dry_run else _give_back(payment, client, refund=False)
        if not dry_run:
            Payment.objects.filter(pk=payment.pk).update(outcome_unknown=False, reconciled_at=now)
        return "confirmed_failed"

    if payment.status == S.PENDING:
        if status is None:
            if past_deadline:
                if not dry_run:
                    from .charges import payment_give_up

                    payment_give_up(payment.pk, reason="deadline passed; the provider never saw the charge")
                return "failed_past_deadline"
            if not dry_run:
                _reschedule(payment.pk)
            return "rescheduled"
        if status == "declined":
            if not dry_run:
                payment_transition(
                    payment.pk,
                    S.DECLINED,
                    gateway_ref=found.ref,
                    failure_code=found.decline_code or "card_declined",
                    audit_event="payment.reconciled_declined",
                )
            return "adopted_declined"
        if past_deadline:  # the caller gave up: hand the money back rather than charge late
            if dry_run:
                return "would_give_back"
            payment_transition(
                payment.pk,
                S.FAILED,
                gateway_ref=found.ref,
                failure_code="deadline_exceeded",
                outcome_unknown=True,
                audit_event="payment.failed_past_deadline",
            )
            return _give_back(Payment.objects.get(pk=payment.pk), client, refund=status == "captured")
        if not dry_run:
            adopted = S.CAPTURED if status == "captured" else S.AUTHORIZED
            payment_transition(
                payment.pk,
                adopted,
                gateway_ref=found.ref,
                outcome_unknown=False,
                audit_event=f"payment.reconciled_{adopted}",
            )
            _reschedule(payment.pk)
        return f"adopted_{status}"

    if payment.status == S.AUTHORIZED:
        if status == "captured":
            if not dry_run:
                payment_transition(
                    payment.pk, S.CAPTURED, outcome_unknown=False, audit_event="payment.reconciled_captured"
                )
            return "adopted_captured"
        if status == "voided":
            if not dry_run:
                payment_transition(payment.pk, S.VOIDED, audit_event="payment.reconciled_voided")
            return "adopted_voided"
        if payment.next_action == "void":
            if not dry_run:
                from ..tasks import payment_cancel_enqueue

                payment_cancel_enqueue(payment.pk)
            return "rescheduled_void"
        if payment.mode == Payment.Mode.CAPTURE or payment.next_action == "capture":
            if not dry_run:
                from ..tasks import payment_capture_enqueue

                payment_capture_enqueue(payment.pk)
            return "rescheduled_capture"
        return "nothing"  # an authorization the caller will capture or void
    return "nothing"


def _give_back(payment: Payment, client, *, refund: bool) -> str:
    """Void (authorized) or refund (captured) a charge we recorded as failed; audited."""
    from .refunds import refund_record

    with transaction.atomic():  # the provider's reference, which a lost answer never told us
        locked = payment_lock(payment.pk)
        if locked.gateway_ref != payment.gateway_ref:
            locked.gateway_ref = payment.gateway_ref
            payment_touch(locked, ["gateway_ref"])
    if not refund:
        client.void(charge_ref=payment.gateway_ref, idempotency_key=f"{payment.idempotency_key}:void")
        payment_transition(
            payment.pk,
            S.VOIDED,
            correction=True,
            audit_event="payment.reconciled_void",
            actor="reconciler",
            outcome_unknown=False,
            reconciled_at=timezone.now(),
        )
        return "voided"
    key = f"{payment.idempotency_key}:reconcile"
    result = client.refund(
        charge_ref=payment.gateway_ref,
        amount=payment.amount - payment.amount_refunded,
        currency=payment.currency,
        reference=key,
        reason="captured after the payment was recorded failed",
        idempotency_key=f"{key}:refund",
    )
    with transaction.atomic():
        locked = payment_lock(payment.pk)
        if locked.status != S.FAILED:
            return "nothing"
        refund_record(
            locked,
            amount=result.amount,
            reason="captured after the payment was recorded failed",
            key=key,
            gateway_ref=result.ref,
            succeeded=result.status == "succeeded",
            actor="reconciler",
            correction=True,
        )
    return "refunded"


def _reschedule(payment_id: int) -> None:
    from ..tasks import payment_process_enqueue

    payment_process_enqueue(payment_id)


def _deferred_webhooks() -> int:
    from .webhooks import webhook_apply_deferred

    applied = 0
    digests = set(
        WebhookEvent.objects.filter(state=WebhookEvent.State.DEFERRED).values_list(
            "gateway", "charge_ref_digest"
        )
    )
    for gateway, digest in digests:
        payment = Payment.objects.filter(gateway=gateway, gateway_ref_digest=digest).first()
        if payment is not None:
            applied += webhook_apply_deferred(payment)
    return applied
