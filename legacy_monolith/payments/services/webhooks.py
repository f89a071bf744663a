"""webhook_process: verify a provider callback, store it once, apply it to our payments and refunds."""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from legacy_monolith.core.errors import ApplicationError, NotFoundError

from ..gateways import GatewayEvent, InvalidEvent, gateway_client, gateway_names
from ..models import Payment, Refund, WebhookEvent
from ..signatures import verify_signature
from .refunds import order_status_follow_payment

log = logging.getLogger(__name__)


def webhook_process(*, gateway: str, body: bytes, signature: str | None, now: float | None = None) -> str:
    """Returns "processed", or "duplicate" for an event id this gateway already sent (a 200 no-op)."""
    if gateway not in gateway_names():
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
        event = gateway_client(gateway).parse_event(payload)
    except InvalidEvent as exc:
        raise ApplicationError("webhook_payload_invalid", str(exc)) from exc

    with transaction.atomic():
        stored, created = WebhookEvent.objects.get_or_create(
            gateway=gateway, event_id=event.id, defaults={"type": event.type, "payload": payload}
        )
        if not created:
            return "duplicate"
        _apply(gateway, event)
        stored.processed_at = timezone.now()
        stored.save(update_fields=["processed_at"])
    return "processed"


def _apply(gateway: str, event: GatewayEvent) -> None:
    # Lock the payment first: a refund being recorded right now holds that lock, so its row is visible
    # once we get it.
    payment = (
        Payment.objects.select_for_update().filter(gateway=gateway, gateway_ref=event.charge_ref).first()
        if event.charge_ref
        else None
    )
    if payment is None:
        log.warning("webhook for an unknown charge", extra={"gateway": gateway, "event_type": event.type})
        return
    if event.type == "charge.captured":
        if payment.status in (Payment.Status.PENDING, Payment.Status.AUTHORIZED):
            payment.status = Payment.Status.CAPTURED
            payment.save(update_fields=["status", "updated_at"])
        elif payment.status == Payment.Status.FAILED:
            log.warning("gateway captured a payment we recorded as failed", extra={"payment_id": payment.pk})
    elif event.type in ("refund.succeeded", "refund.failed"):
        refund = _refund_of(payment, event)
        if refund is None or refund.status != Refund.Status.PENDING:
            return
        if event.type == "refund.succeeded":
            refund.status = Refund.Status.SUCCEEDED
        else:
            refund.status = Refund.Status.FAILED
            payment.amount_refunded -= refund.amount
            payment.status = (
                Payment.Status.CAPTURED if payment.amount_refunded == 0 else Payment.Status.PARTIALLY_REFUNDED
            )
            payment.save(update_fields=["amount_refunded", "status", "updated_at"])
            order_status_follow_payment(payment)
        refund.save(update_fields=["status"])


def _refund_of(payment: Payment, event: GatewayEvent) -> Refund | None:
    refunds = Refund.objects.select_for_update().filter(payment=payment)
    if event.refund_ref:
        found = refunds.filter(gateway_ref=event.refund_ref).first()
        if found is not None:
            return found
    return refunds.filter(idempotency_key=event.refund_reference).first() if event.refund_reference else None
