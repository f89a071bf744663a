"""The monolith's payments <-> payment sync documents (contracts/payment.py), both ways.

- `payment_document(payment)`: a monolith payment with its refunds, as the document (`sync payments
  backfill|follow|verify` send it to the Payment service). Its version: the row's updated_at in
  microseconds for the monolith's own payments, the service's version for copies.
- `payment_mirror_apply(doc)`: the Payment service's payment kept in the monolith's tables (origin
  `service`, the same id), so a rollback of the payments route leaves it visible and refundable here.
  Applied only when the document is newer than the copy (`origin_version`); a payment the monolith owns is
  never overwritten by it. The order and the user must exist here already (the orders and users syncs bring
  them): until then `MirrorNotReady` (the consumer retries with backoff).
Refunds are owned by the side that made them: a service payment refunded here after a rollback keeps its
refund as a monolith refund, which `sync payments follow` carries back to the service.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.dateparse import parse_datetime

from contracts.payment import validate_payment_document
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment, Refund


class MirrorNotReady(Exception):
    """The payment's order or user is not in the monolith yet: try again later."""


def _time(value: datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds").replace("+00:00", "Z") if value else None


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def refund_document(refund: Refund) -> dict:
    return {
        "id": refund.pk,
        "origin": refund.origin,
        "amount": _money(refund.amount),
        "reason": refund.reason,
        "status": refund.status,
        "gateway_ref": refund.gateway_ref,
        "idempotency_key": refund.idempotency_key,
        "actor_id": refund.actor_id,
        "created_at": _time(refund.created_at),
    }


def payment_document(payment: Payment) -> dict:
    version = (
        payment.origin_version if payment.origin == "service" else int(payment.updated_at.timestamp() * 1e6)
    )
    return {
        "id": payment.pk,
        "origin": payment.origin,
        "order_number": payment.order.number,
        "user_id": payment.user_id,
        "gateway": payment.gateway,
        "gateway_ref": payment.gateway_ref,
        "idempotency_key": payment.idempotency_key,
        "amount": _money(payment.amount),
        "amount_refunded": _money(payment.amount_refunded),
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
        "refunds": [refund_document(r) for r in payment.refunds.order_by("id")],
        "version": max(version, 1),
    }


PAYMENT_COPY_FIELDS = (
    "gateway", "gateway_ref", "idempotency_key", "currency", "status", "card_token", "card_fingerprint",
    "card_brand", "card_bin", "card_last4", "card_country", "client_ip", "fraud_score", "fraud_reasons",
    "failure_code", "failure_message",
)  # fmt: skip


def payment_mirror_apply(doc: dict, *, force: bool = False) -> str:
    """Keep a service payment here. Returns "applied", "stale" (not newer) or "not_ours" (a monolith one)."""
    doc = validate_payment_document(doc)
    if doc["origin"] != "service":
        return "not_ours"
    with transaction.atomic():
        order = Order.objects.filter(number=doc["order_number"]).first()
        if order is None or not get_user_model().objects.filter(pk=doc["user_id"]).exists():
            raise MirrorNotReady(
                f"payment {doc['id']}: order {doc['order_number']} or user {doc['user_id']} not here yet"
            )
        payment = Payment.objects.select_for_update().filter(pk=doc["id"]).first()
        if payment is not None and payment.origin != "service":
            return "not_ours"
        if payment is not None and payment.origin_version >= doc["version"] and not force:
            return "stale"
        values = {name: doc[name] for name in PAYMENT_COPY_FIELDS}
        values.update(
            order=order,
            user_id=doc["user_id"],
            amount=Decimal(doc["amount"]),
            amount_refunded=Decimal(doc["amount_refunded"]),
            origin="service",
            origin_version=doc["version"],
        )
        Payment.objects.update_or_create(pk=doc["id"], defaults=values)
        # auto_now_add/auto_now would stamp the copy's own times: keep the owner's.
        Payment.objects.filter(pk=doc["id"]).update(
            created_at=parse_datetime(doc["created_at"]), updated_at=parse_datetime(doc["updated_at"])
        )
        for refund in doc["refunds"]:
            if refund["origin"] != "service":
                continue  # made here: this side owns it already
            Refund.objects.update_or_create(
                pk=refund["id"],
                defaults={
                    "payment_id": doc["id"],
                    "origin": "service",
                    "amount": Decimal(refund["amount"]),
                    "reason": refund["reason"],
                    "status": refund["status"],
                    "gateway_ref": refund["gateway_ref"],
                    "idempotency_key": refund["idempotency_key"],
                    "actor_id": refund["actor_id"] if _user_exists(refund["actor_id"]) else None,
                },
            )
            Refund.objects.filter(pk=refund["id"]).update(created_at=parse_datetime(refund["created_at"]))
    return "applied"


def _user_exists(user_id: int | None) -> bool:
    return user_id is not None and get_user_model().objects.filter(pk=user_id).exists()
