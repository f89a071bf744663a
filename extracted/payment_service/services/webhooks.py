"""webhook_process: verify a provider callback (HMAC over timestamp and raw body, within the replay
window), store it once per (gateway, event id), apply it to our payments and refunds.

Delivered twice: the second is a `duplicate` (200, nothing done). Out of order: an event about a charge or
refund we cannot place yet (its API answer has not been recorded: "captured" before "authorized") is
stored `deferred` and applied when the payment learns its reference (`webhook_apply_deferred`) or by the
reconciler. Applying goes through `payment_transition`, which never moves a payment backwards, so a late
"authorized" after "captured" changes nothing.
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from contracts import payment as contract
from contracts.webhook_signatures import verify_signature

from ..errors import ApplicationError, NotFoundError
from ..keys import ref_digest
from ..models import Payment, Refund, WebhookEvent
from ..providers import InvalidEvent, ProviderEvent, provider, provider_names
from .state import payment_event, payment_lock, payment_touch, payment_transition

log = logging.getLogger(__name__)
S = Payment.Status


def webhook_process(*, gateway: str, body: bytes, signature: str | None, now: float | None = None) -> str:
    """ "processed", "deferred" (kept until its payment is known), "ignored" or "duplicate"."""
    if gateway not in provider_names():
        raise NotFoundError("gateway", gateway)
    verify_signature(
        body=body,
        header=signature,
        secret=settings.PAYMENT_WEBHOOK_SECRET,
        now=time.time() if now is None else now,
        tolerance_seconds=settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS,
    )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError("malformed_request", "The webhook body is not JSON") from exc
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("id"), str)
        and 0 < len(payload["id"]) <= 64
        and isinstance(payload.get("type"), str)
        and 0 < len(payload["type"]) <= 40
    ):
        raise ApplicationError("webhook_payload_invalid", "A webhook event needs an id and a type")
    try:
        event = provider(gateway).parse_event(payload)
    except InvalidEvent as exc:
        raise ApplicationError("webhook_payload_invalid", str(exc)) from exc
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                gateway=gateway,
                event_id=event.id,
                type=event.type,
                charge_ref_digest=ref_digest(gateway, event.charge_ref),
                payload=payload,
                received_at=timezone.now(),
            )
            state = _apply(gateway, event, stored)
    except IntegrityError:
        return "duplicate"
    return state


def _apply(gateway: str, event: ProviderEvent, stored: WebhookEvent) -> str:
    payment = Payment.objects.filter(gateway=gateway, gateway_ref_digest=stored.charge_ref_digest).first()
    if payment is None or not event.charge_ref:
        state = WebhookEvent.State.DEFERRED if event.charge_ref else WebhookEvent.State.IGNORED
    else:
        state = _apply_to(payment, event)
    stored.state = state
    stored.processed_at = timezone.now() if state != WebhookEvent.State.DEFERRED else None
    stored.save(update_fields=["state", "processed_at"])
    return state


def _apply_to(payment: Payment, event: ProviderEvent) -> str:
    if event.type == "charge.captured":
        if payment.status == S.FAILED:
            # We gave up on it, the provider captured it anyway: the reconciler gives the money back.
            from .reconcile import payment_reconcile_one

            transaction.on_commit(lambda: payment_reconcile_one(payment.pk))
        else:
            payment_transition(
                payment.pk, S.CAPTURED, audit_event="payment.captured_by_webhook", outcome_unknown=False
            )
        return WebhookEvent.State.PROCESSED
    if event.type == "charge.voided":
        payment_transition(payment.pk, S.VOIDED, audit_event="payment.voided_by_webhook")
        return WebhookEvent.State.PROCESSED
    if event.type in ("refund.succeeded", "refund.failed"):
        payment = payment_lock(payment.pk)
        refund = _refund_of(payment, event)
        if refund is None:
            return WebhookEvent.State.DEFERRED
        if refund.status == Refund.Status.PENDING:
            _settle_refund(payment, refund, succeeded=event.type == "refund.succeeded")
        return WebhookEvent.State.PROCESSED
    return WebhookEvent.State.IGNORED


def _refund_of(payment: Payment, event: ProviderEvent) -> Refund | None:
    refunds = Refund.objects.select_for_update().filter(payment=payment)
    if event.refund_ref:
        found = refunds.filter(gateway_ref_digest=ref_digest(payment.gateway, event.refund_ref)).first()
        if found is not None:
            return found
    return refunds.filter(idempotency_key=event.refund_reference).first() if event.refund_reference else None


def _settle_refund(payment: Payment, refund: Refund, *, succeeded: bool) -> None:
    from ..audit import audit_record

    refund.status = Refund.Status.SUCCEEDED if succeeded else Refund.Status.FAILED
    refund.save(update_fields=["status"])
    if not succeeded:  # the money did not go back: the payment holds it again
        payment.amount_refunded -= refund.amount
        payment.status = S.CAPTURED if payment.amount_refunded == 0 else S.PARTIALLY_REFUNDED
        payment_touch(payment, ["amount_refunded", "status"])
        payment_event(
            payment, contract.PAYMENT_REFUND_FAILED, refund_id=refund.pk, refund_amount=refund.amount
        )
    else:
        payment_touch(payment, [])
    audit_record(
        event="refund.succeeded" if succeeded else "refund.failed",
        payment_id=payment.pk,
        data={"refund_id": refund.pk},
    )


def webhook_apply_deferred(payment: Payment) -> int:
    """Apply the events that arrived before this payment (or its refund) could be placed. Returns how
    many were applied."""
    digest = ref_digest(payment.gateway, payment.gateway_ref)
    if not digest:
        return 0
    applied = 0
    for stored in WebhookEvent.objects.filter(
        gateway=payment.gateway, charge_ref_digest=digest, state=WebhookEvent.State.DEFERRED
    ).order_by("received_at", "id"):
        event = provider(payment.gateway).parse_event(stored.payload)
        with transaction.atomic():
            current = WebhookEvent.objects.select_for_update().get(pk=stored.pk)
            if current.state != WebhookEvent.State.DEFERRED:
                continue
            state = _apply_to(Payment.objects.get(pk=payment.pk), event)
            if state == WebhookEvent.State.DEFERRED:
                continue
            current.state, current.processed_at = state, timezone.now()
            current.save(update_fields=["state", "processed_at"])
            applied += 1
    return applied
