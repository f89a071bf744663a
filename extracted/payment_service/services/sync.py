"""`sync payments` on the Payment service's side: the monolith's payments imported as copies, this
service's payments exported as documents (contracts/payment.py), both with their refunds.

Ownership by origin: a payment belongs to the side that created it; a refund to the side that made it.
- `payment_import(doc)`: a monolith payment (origin `monolith`) upserted here under its own id, applied only
  when its version is newer than the copy's; its refunds with it. For a payment this service owns, only the
  refunds the monolith made (after a rollback) are taken, and the balance and status follow them.
- `payment_document(payment)`: what the monolith keeps of this service's payments (and verify compares).
- Every change of a payment this service owns leaves a `payment.synced` outbox event (services/state.py),
  which the monolith's `sync payments follow` consumes.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_datetime

from contracts import payment as contract
from contracts.sync import ImportResult

from ..keys import ref_digest
from ..models import BlockedBin, BlockedCountry, Payment, Refund, WebhookEvent


def _time(value) -> str:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z")


def refund_document(refund: Refund, payment: Payment) -> dict:
    return {
        "id": refund.pk,
        "origin": "service" if refund.pk >= contract.SERVICE_ID_START else "monolith",
        "amount": contract.money(refund.amount),
        "reason": refund.reason,
        "status": refund.status,
        "gateway_ref": refund.gateway_ref,
        "idempotency_key": refund.idempotency_key,
        "actor_id": refund.actor_id,
        "created_at": _time(refund.created_at),
    }


def payment_document(payment: Payment) -> dict:
    return {
        "id": payment.pk,
        "origin": payment.origin,
        "order_number": payment.order_number,
        "user_id": payment.user_id,
        "gateway": payment.gateway,
        "gateway_ref": payment.gateway_ref,
        "idempotency_key": payment.idempotency_key,
        "amount": contract.money(payment.amount),
        "amount_refunded": contract.money(payment.amount_refunded),
        "currency": payment.currency,
        "status": payment.status,
        "card_token": payment.card_token,
        "card_fingerprint": payment.card_fingerprint,
        "card_brand": payment.card_brand,
        "card_bin": payment.card_bin,
        "card_last4": payment.card_last4,
        "card_country": payment.card_country,
        "client_ip": payment.client_ip,
        "fraud_score": payment.fraud_score,
        "fraud_reasons": list(payment.fraud_reasons),
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "created_at": _time(payment.created_at),
        "updated_at": _time(payment.updated_at),
        "refunds": [refund_document(r, payment) for r in payment.refunds.order_by("id")],
        "version": max(payment.version, 1),
    }


COPY_FIELDS = (
    "order_number", "user_id", "gateway", "gateway_ref", "idempotency_key", "currency", "status",
    "card_token", "card_fingerprint", "card_brand", "card_bin", "card_last4", "card_country", "client_ip",
    "fraud_score", "fraud_reasons", "failure_code", "failure_message",
)  # fmt: skip


def payments_import(documents: list[dict], *, force: bool = False) -> ImportResult:
    result = ImportResult()
    for position, document in enumerate(documents):
        try:
            doc = contract.validate_payment_document(document)
        except contract.PaymentContractError as exc:
            raise contract.PaymentContractError(
                f"payments[{position}].{exc.field.split('.', 1)[-1]}", str(exc)
            ) from None
        applied = payment_import(doc, force=force)
        result = result + ImportResult(applied=int(applied), stale=int(not applied))
    return result


def payment_import(doc: dict, *, force: bool = False) -> bool:
    """Apply one validated document; True when something changed. `force` (a repair) applies a monolith
    payment even when its version is not newer (a change made without touching its updated_at)."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=doc["id"]).first()
        if doc["origin"] == "service" or (payment is not None and payment.origin == Payment.Origin.SERVICE):
            return payment is not None and _import_monolith_refunds(payment, doc)
        if payment is not None and payment.version >= doc["version"] and not force:
            return False
        values = {name: doc[name] for name in COPY_FIELDS}
        values.update(
            origin=Payment.Origin.MONOLITH,
            amount=Decimal(doc["amount"]),
            amount_refunded=Decimal(doc["amount_refunded"]),
            gateway_ref_digest=ref_digest(doc["gateway"], doc["gateway_ref"]),
            fraud_checked=True,
            version=doc["version"],
            created_at=parse_datetime(doc["created_at"]),
            updated_at=parse_datetime(doc["updated_at"]),
        )
        Payment.objects.update_or_create(pk=doc["id"], defaults=values)
        for refund in doc["refunds"]:
            _refund_upsert(doc["id"], doc["gateway"], refund)
    return True


def _refund_upsert(payment_id: int, gateway: str, refund: dict) -> bool:
    _, created = Refund.objects.update_or_create(
        pk=refund["id"],
        defaults={
            "payment_id": payment_id,
            "amount": Decimal(refund["amount"]),
            "reason": refund["reason"],
            "status": refund["status"],
            "gateway_ref": refund["gateway_ref"],
            "gateway_ref_digest": ref_digest(gateway, refund["gateway_ref"]),
            "idempotency_key": refund["idempotency_key"],
            "actor_id": refund["actor_id"],
            "created_at": parse_datetime(refund["created_at"]),
        },
    )
    return created


def _import_monolith_refunds(payment: Payment, doc: dict) -> bool:
    """Refunds the monolith made of a payment this service owns (after a rollback): taken, and the balance
    follows (audited, evented through payment_touch)."""
    from .state import payment_touch

    added = [
        r
        for r in doc["refunds"]
        if r["origin"] == "monolith" and not Refund.objects.filter(pk=r["id"]).exists()
    ]
    for refund in added:
        _refund_upsert(payment.pk, payment.gateway, refund)
    if not added:
        return False
    refunded = sum((r.amount for r in payment.refunds.exclude(status=Refund.Status.FAILED)), Decimal(0))
    payment.amount_refunded = refunded
    if payment.status in (
        Payment.Status.CAPTURED,
        Payment.Status.PARTIALLY_REFUNDED,
        Payment.Status.REFUNDED,
    ):
        payment.status = (
            Payment.Status.REFUNDED if refunded >= payment.amount else Payment.Status.PARTIALLY_REFUNDED
        )
    payment_touch(payment, ["amount_refunded", "status"])
    from ..audit import audit_record

    audit_record(
        event="payment.refund_imported", payment_id=payment.pk, data={"refunds": [r["id"] for r in added]}
    )
    return True


def blocklists_import(*, bins: list[dict], countries: list[dict]) -> ImportResult:
    applied = 0
    for item in bins:
        BlockedBin.objects.update_or_create(bin=item["bin"], defaults={"reason": item.get("reason", "")})
        applied += 1
    for item in countries:
        BlockedCountry.objects.update_or_create(
            code=item["code"], defaults={"reason": item.get("reason", "")}
        )
        applied += 1
    return ImportResult(applied=applied)


def webhook_events_import(events: list[dict]) -> ImportResult:
    """The monolith's received webhook events, so a redelivery after the cutover is a duplicate here."""
    applied = stale = 0
    for event in events:
        _, created = WebhookEvent.objects.get_or_create(
            gateway=event["gateway"],
            event_id=event["event_id"],
            defaults={
                "type": event["type"],
                "payload": event["payload"],
                "state": WebhookEvent.State.PROCESSED,
                "received_at": parse_datetime(event["received_at"]),
                "processed_at": parse_datetime(event["processed_at"]) if event.get("processed_at") else None,
            },
        )
        applied, stale = applied + int(created), stale + int(not created)
    return ImportResult(applied=applied, stale=stale)
