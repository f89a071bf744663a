"""The payment contract: statuses, the v1 payment document both the monolith and the Payment service
render, the data of `payment.*` events, and the sync document `sync payments` carries both ways.

No card number appears anywhere in this module's shapes: a payment carries the provider's token (only in
the sync document, which travels between our own databases), the BIN and the last four digits.
Validation never coerces: a document matches exactly or is refused with the field named
(400 `invalid_document`, as the product contract does).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from contracts.errors import ApplicationError

# --- statuses -------------------------------------------------------------------------------------------
PENDING = "pending"
AUTHORIZED = "authorized"
CAPTURED = "captured"
DECLINED = "declined"
REJECTED_FRAUD = "rejected_fraud"
FAILED = "failed"
VOIDED = "voided"
REFUNDED = "refunded"
PARTIALLY_REFUNDED = "partially_refunded"
STATUSES = (
    PENDING,
    AUTHORIZED,
    CAPTURED,
    DECLINED,
    REJECTED_FRAUD,
    FAILED,
    VOIDED,
    REFUNDED,
    PARTIALLY_REFUNDED,
)
# Where no money is held or moved any more (a refund may still follow a capture).
FINAL_STATUSES = frozenset({DECLINED, REJECTED_FRAUD, FAILED, VOIDED, REFUNDED})
REFUNDABLE_STATUSES = frozenset({CAPTURED, PARTIALLY_REFUNDED})
REFUND_STATUSES = ("pending", "succeeded", "failed")
ORIGINS = ("monolith", "service")

# --- events (routing keys on strangler.events) ---------------------------------------------------------
PAYMENT_AUTHORIZED = "payment.authorized"
PAYMENT_CAPTURED = "payment.captured"
PAYMENT_FAILED = "payment.failed"
PAYMENT_VOIDED = "payment.voided"
PAYMENT_REFUNDED = "payment.refunded"
PAYMENT_REFUND_FAILED = "payment.refund_failed"  # a pending refund the provider failed: money held again
EVENT_TYPES = (
    PAYMENT_AUTHORIZED,
    PAYMENT_CAPTURED,
    PAYMENT_FAILED,
    PAYMENT_VOIDED,
    PAYMENT_REFUNDED,
    PAYMENT_REFUND_FAILED,
)
# A payment the Payment service owns changed: {payment_id, version}; the monolith's `sync payments follow`
# fetches its sync document from the service (provider references stay off the broker).
PAYMENT_SYNCED = "payment.synced"

# --- the v1 document (GET /api/v1/payments[/<id>]) -----------------------------------------------------
V1_REFUND_FIELDS = ("id", "amount", "status", "reason", "created_at")
V1_PAYMENT_FIELDS = (
    "id",
    "order_number",
    "gateway",
    "gateway_ref",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "card_brand",
    "card_last4",
    "fraud_score",
    "fraud_reasons",
    "failure_code",
    "failure_message",
    "created_at",
    "refunds",
)

# --- the sync document (sync payments backfill|follow|verify, and the reverse flow) -------------------
SYNC_REFUND_FIELDS = (
    "id",
    "origin",
    "amount",
    "reason",
    "status",
    "gateway_ref",
    "idempotency_key",
    "actor_id",
    "created_at",
)
SYNC_PAYMENT_FIELDS = (
    "id",
    "origin",
    "order_number",
    "user_id",
    "gateway",
    "gateway_ref",
    "idempotency_key",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "card_token",
    "card_fingerprint",
    "card_brand",
    "card_bin",
    "card_last4",
    "card_country",
    "client_ip",
    "fraud_score",
    "fraud_reasons",
    "failure_code",
    "failure_message",
    "created_at",
    "updated_at",
    "refunds",
    "version",
)
SYNC_WEBHOOK_FIELDS = ("gateway", "event_id", "type", "payload", "received_at", "processed_at")


def comparable(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """What must agree between the two copies of a payment (`sync payments verify`): the money and its
    state, the card facts, the refunds; not the versions, timestamps of the copy or provider internals."""
    if doc is None:
        return None
    return {
        "origin": doc["origin"],
        "order_number": doc["order_number"],
        "user_id": doc["user_id"],
        "gateway": doc["gateway"],
        "gateway_ref": doc["gateway_ref"],
        "amount": doc["amount"],
        "amount_refunded": doc["amount_refunded"],
        "currency": doc["currency"],
        "status": doc["status"],
        "card_last4": doc["card_last4"],
        "fraud_score": doc["fraud_score"],
        "refunds": sorted((r["id"], r["amount"], r["status"]) for r in doc["refunds"]),
    }


MONEY_PATTERN = re.compile(r"^(0|[1-9][0-9]{0,9})\.[0-9]{2}$")
TIMESTAMP_PATTERN = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
ORDER_NUMBER_PATTERN = re.compile(r"^[A-Za-z0-9-]{1,20}$")
DIGITS = re.compile(r"^[0-9]*$")
MAX_ID = 2**63 - 1
# The Payment service numbers its payments and refunds from here, so ids never collide with the
# monolith's (which count from 1) and a payment keeps one id on both sides.
SERVICE_ID_START = 1_000_000_000_001


class PaymentContractError(ApplicationError):
    """A document does not match the contract (400 `invalid_document`), `field` names the value."""

    def __init__(self, field: str, detail: str):
        super().__init__("invalid_document", f"{field}: {detail}", extra={"field": field})
        self.field = field


def money(value: Decimal) -> str:
    """Amounts as DRF renders DecimalField(decimal_places=2): "12.34"."""
    return f"{Decimal(value).quantize(Decimal('0.01')):.2f}"


def parse_money(value: Any, field: str) -> Decimal:
    if not isinstance(value, str) or not MONEY_PATTERN.match(value):
        raise PaymentContractError(field, 'must be an amount string like "12.34"')
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already refused it
        raise PaymentContractError(field, "is not an amount") from None


def event_data(
    *,
    payment_id: int,
    order_number: str,
    user_id: int,
    status: str,
    amount: Decimal,
    amount_refunded: Decimal,
    currency: str,
    gateway: str,
    card_brand: str,
    card_last4: str,
    fraud_score: int,
    failure_code: str = "",
    refund_id: int | None = None,
    refund_amount: Decimal | None = None,
) -> dict[str, Any]:
    """The data of every `payment.*` event: what a subscriber (the saga, notifications) needs, no card
    number, no provider token and no provider reference."""
    data: dict[str, Any] = {
        "payment_id": payment_id,
        "order_number": order_number,
        "user_id": user_id,
        "status": status,
        "amount": money(amount),
        "amount_refunded": money(amount_refunded),
        "currency": currency,
        "gateway": gateway,
        "card_brand": card_brand,
        "card_last4": card_last4,
        "fraud_score": fraud_score,
        "failure_code": failure_code,
    }
    if refund_id is not None:
        data["refund_id"] = refund_id
        data["refund_amount"] = money(refund_amount or Decimal(0))
    return data


def _keys(doc: Any, fields: tuple[str, ...], where: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise PaymentContractError(where, "must be a JSON object")
    unknown = sorted(str(k) for k in doc if k not in fields)
    if unknown:
        raise PaymentContractError(f"{where}.{unknown[0]}", "is not a field of the contract")
    missing = [f for f in fields if f not in doc]
    if missing:
        raise PaymentContractError(f"{where}.{missing[0]}", "is required")
    return doc


def _text(doc: Mapping[str, Any], name: str, where: str, *, max_length: int, pattern=None) -> str:
    value = doc[name]
    if not isinstance(value, str) or len(value) > max_length:
        raise PaymentContractError(f"{where}.{name}", f"must be a string of at most {max_length} characters")
    if pattern is not None and value and not pattern.match(value):
        raise PaymentContractError(f"{where}.{name}", "has the wrong format")
    return value


def _int(doc: Mapping[str, Any], name: str, where: str, *, low: int = 0, high: int = MAX_ID, null=False):
    value = doc[name]
    if value is None and null:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PaymentContractError(f"{where}.{name}", f"must be an integer between {low} and {high}")
    return value


def _timestamp(doc: Mapping[str, Any], name: str, where: str, *, null: bool = False):
    value = doc[name]
    if value is None and null:
        return None
    if not isinstance(value, str) or not TIMESTAMP_PATTERN.match(value):
        raise PaymentContractError(f"{where}.{name}", "must be a UTC timestamp like 2024-01-31T12:00:00Z")
    return value


def validate_refund_document(doc: Any, where: str = "refund") -> dict[str, Any]:
    doc = _keys(doc, SYNC_REFUND_FIELDS, where)
    _int(doc, "id", where, low=1)
    if doc["origin"] not in ORIGINS:
        raise PaymentContractError(f"{where}.origin", "must be monolith or service")
    parse_money(doc["amount"], f"{where}.amount")
    _text(doc, "reason", where, max_length=200)
    if doc["status"] not in REFUND_STATUSES:
        raise PaymentContractError(f"{where}.status", f"must be one of {', '.join(REFUND_STATUSES)}")
    _text(doc, "gateway_ref", where, max_length=64)
    _text(doc, "idempotency_key", where, max_length=64)
    _int(doc, "actor_id", where, low=1, null=True)
    _timestamp(doc, "created_at", where)
    return dict(doc)


def validate_payment_document(doc: Any, where: str = "payment") -> dict[str, Any]:
    """A sync document exactly as the contract says, or PaymentContractError naming the field."""
    doc = _keys(doc, SYNC_PAYMENT_FIELDS, where)
    _int(doc, "id", where, low=1)
    if doc["origin"] not in ORIGINS:
        raise PaymentContractError(f"{where}.origin", "must be monolith or service")
    _text(doc, "order_number", where, max_length=20, pattern=ORDER_NUMBER_PATTERN)
    _int(doc, "user_id", where, low=1)
    _text(doc, "gateway", where, max_length=20)
    _text(doc, "gateway_ref", where, max_length=64)
    _text(doc, "idempotency_key", where, max_length=64)
    amount = parse_money(doc["amount"], f"{where}.amount")
    refunded = parse_money(doc["amount_refunded"], f"{where}.amount_refunded")
    if refunded > amount:
        raise PaymentContractError(f"{where}.amount_refunded", "exceeds the amount")
    _text(doc, "currency", where, max_length=3, pattern=CURRENCY_PATTERN)
    if doc["status"] not in STATUSES:
        raise PaymentContractError(f"{where}.status", "is not a payment status")
    _text(doc, "card_token", where, max_length=64)
    _text(doc, "card_fingerprint", where, max_length=64)
    _text(doc, "card_brand", where, max_length=16)
    _text(doc, "card_bin", where, max_length=6, pattern=DIGITS)
    _text(doc, "card_last4", where, max_length=4, pattern=DIGITS)
    _text(doc, "card_country", where, max_length=2)
    if doc["client_ip"] is not None:
        _text(doc, "client_ip", where, max_length=45)
    _int(doc, "fraud_score", where, high=100)
    reasons = doc["fraud_reasons"]
    if not isinstance(reasons, list) or not all(isinstance(r, str) and len(r) <= 40 for r in reasons):
        raise PaymentContractError(f"{where}.fraud_reasons", "must be a list of reason names")
    _text(doc, "failure_code", where, max_length=40)
    _text(doc, "failure_message", where, max_length=200)
    _timestamp(doc, "created_at", where)
    _timestamp(doc, "updated_at", where)
    refunds = doc["refunds"]
    if not isinstance(refunds, list) or len(refunds) > 100:
        raise PaymentContractError(f"{where}.refunds", "must be a list of at most 100 refunds")
    for position, refund in enumerate(refunds):
        validate_refund_document(refund, f"{where}.refunds[{position}]")
    _int(doc, "version", where)
    return dict(doc)
