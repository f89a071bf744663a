"""The monolith's payments as the Order service's saga participant (`/internal/v1/payments/...`).

The same gateways, antifraud rules and Payment rows as the monolith's own checkout (charges.py), split into
the saga's steps: tokenize (before the order exists), authorize, capture, void, refund. Each is keyed by
the saga's idempotency key (scoped like a checkout's charge key), so a repeated call answers the first
outcome and moves no money twice. A gateway that cannot be reached is `GatewayUnavailable` for the caller
raised through (the internal view answers 503 and the saga retries with the same key; the Payment stays
`pending`).
Outcomes are plain dicts: the payment port's `PaymentOutcome` fields
(extracted/order_service/participants/payments.py).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from legacy_monolith.orders.models import Order

from ..antifraud import FraudRules, assess
from ..gateways import CardDetails, CardRejected, GatewayRejected, gateway_client
from ..keys import card_fingerprint, scoped_key
from ..models import AuthorizationVoid, Payment
from .charges import _fraud_facts, _valid_ip, _with_card_country
from .refunds import payment_refund

S = Payment.Status
REFUSED = {S.DECLINED: "declined", S.REJECTED_FRAUD: "rejected_fraud", S.FAILED: "failed"}


def outcome_of(payment: Payment | None, outcome: str | None = None) -> dict:
    if payment is None:
        return {"outcome": outcome or "voided", "payment_id": "", "status": ""}
    return {
        "outcome": outcome or _outcome_word(payment),
        "payment_id": str(payment.pk),
        "status": payment.status,
        "gateway": payment.gateway,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "code": payment.failure_code,
        "message": payment.failure_message,
    }


def _outcome_word(payment: Payment) -> str:
    return REFUSED.get(payment.status) or {
        S.AUTHORIZED: "authorized", S.CAPTURED: "captured", S.VOIDED: "voided", S.REFUNDED: "refunded",
        S.PARTIALLY_REFUNDED: "refunded", S.PENDING: "pending",
    }[payment.status]  # fmt: skip


def payment_tokenize(*, gateway: str | None, card: CardDetails) -> dict:
    """The card at its gateway: a token and display facts, or the refusal (a bad card is no exception)."""
    gateway = gateway or settings.PAYMENT_DEFAULT_GATEWAY
    digits = card.digits
    facts = {
        "gateway": gateway,
        "bin": digits[:6],
        "last4": digits[-4:],
        "fingerprint": card_fingerprint(digits),
    }
    try:
        token = gateway_client(gateway).tokenize(card)
    except CardRejected as exc:
        return {**facts, "token": "", "error_code": exc.code, "error_message": exc.message}
    return {**facts, "token": token.token, "brand": token.brand, "country": token.country}


def _authorize_key(user_id: int, idempotency_key: str) -> str:
    return scoped_key("charge", user_id, idempotency_key)


def _void_key(order_number: str, authorize_key: str) -> str:
    return f"{order_number}|{authorize_key}"[:160]


def _one_at_a_time(key: str) -> None:
    """Serialize an authorization and the void that compensates it until the transaction ends (PostgreSQL;
    SQLite, the embedded profile, runs one write transaction at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])


def payment_authorize(*, order: Order, idempotency_key: str, amount: Decimal, currency: str, card: dict,
                      client_ip: str | None) -> dict:  # fmt: skip
    """Antifraud, then an authorization hold at the gateway; the Payment row records it (once per key)."""
    key = _authorize_key(order.user_id, idempotency_key)
    with transaction.atomic():
        _one_at_a_time(_void_key(order.number, idempotency_key))
        payment, _ = Payment.objects.select_for_update().get_or_create(
            idempotency_key=key,
            defaults={"order": order, "user_id": order.user_id, "gateway": card.get("gateway") or
                      settings.PAYMENT_DEFAULT_GATEWAY, "amount": amount, "currency": currency,
                      "client_ip": _valid_ip(client_ip), "card_bin": card.get("bin", "")[:6],
                      "card_last4": card.get("last4", "")[:4], "card_brand": card.get("brand", "")[:16],
                      "card_country": card.get("country", "")[:2], "card_token": card.get("token", "")[:64],
                      "card_fingerprint": card.get("fingerprint", "")[:64]},
        )  # fmt: skip
        if payment.status != S.PENDING:
            return outcome_of(payment)
        if AuthorizationVoid.objects.filter(key=_void_key(order.number, idempotency_key)).exists():
            _fail(
                payment, S.VOIDED, "voided_before_authorize", "The saga voided this payment before it arrived"
            )
            return outcome_of(payment, "voided")
        if card.get("error_code") or not card.get("token"):
            _fail(payment, S.DECLINED, card.get("error_code") or "card_rejected",
                  card.get("error_message") or "The card was refused")  # fmt: skip
            return outcome_of(payment)
        rules = FraudRules.from_settings()
        verdict = assess(_with_card_country(_fraud_facts(payment, order), payment.card_country), rules)
        payment.fraud_score, payment.fraud_reasons = verdict.score, list(verdict.reasons)
        if verdict.rejected:
            _fail(payment, S.REJECTED_FRAUD, "fraud_suspected",
                  "Refused by antifraud: " + ", ".join(verdict.reasons))  # fmt: skip
            return outcome_of(payment)
        try:
            result = gateway_client(payment.gateway).authorize(
                token=payment.card_token, amount=payment.amount, currency=payment.currency,
                reference=order.number, idempotency_key=f"{key}:authorize",
            )  # fmt: skip
        except GatewayRejected as exc:
            _fail(payment, S.FAILED, "gateway_rejected", f"{exc.code}: {exc.message}")
            return outcome_of(payment)
        payment.gateway_ref = result.ref
        if result.status == "declined":
            _fail(payment, S.DECLINED, result.decline_code or "card_declined", result.message or "Declined")
        else:
            payment.status = S.AUTHORIZED if result.status == "authorized" else S.CAPTURED
            payment.save()
        return outcome_of(payment)


def payment_capture(*, payment: Payment) -> dict:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status != S.AUTHORIZED:
            return outcome_of(payment)
        try:
            result = gateway_client(payment.gateway).capture(
                charge_ref=payment.gateway_ref, amount=payment.amount, currency=payment.currency,
                idempotency_key=f"{payment.idempotency_key}:capture",
            )  # fmt: skip
        except GatewayRejected as exc:
            _fail(payment, S.FAILED, "capture_failed", f"{exc.code}: {exc.message}")
            return outcome_of(payment)
        if result.status == "captured":
            payment.status, payment.failure_code, payment.failure_message = S.CAPTURED, "", ""
            payment.save()
            Order.objects.filter(pk=payment.order_id, status=Order.Status.PENDING_PAYMENT).update(
                status=Order.Status.PAID, paid_at=timezone.now()
            )
        else:
            _fail(payment, S.FAILED, "capture_failed", f"The gateway left the charge {result.status}")
        return outcome_of(payment)


def payment_void(
    *, payment: Payment | None, reason: str, refund_key: str, order_number: str = "", authorize_key: str = ""
) -> dict:
    """Release what was not captured (the gateway lets an uncaptured authorization lapse); a captured one
    is refunded in full. Nothing to release (declined, failed) is `voided` too. A payment not here yet gets
    an AuthorizationVoid, so that its authorization, arriving late, charges nothing."""
    if payment is None and order_number and authorize_key:
        with transaction.atomic():
            _one_at_a_time(_void_key(order_number, authorize_key))  # waits for an authorization in flight
            user_id = Order.objects.filter(number=order_number).values_list("user_id", flat=True).first()
            payment = (
                None
                if user_id is None
                else payment_for_saga(payment_id="", user_id=user_id, authorize_key=authorize_key)
            )
            if payment is None:
                AuthorizationVoid.objects.get_or_create(
                    key=_void_key(order_number, authorize_key), defaults={"reason": reason[:200]}
                )
                return outcome_of(None, "voided")
    if payment is None:
        return outcome_of(None, "voided")
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.status in (S.PENDING, S.AUTHORIZED):
            payment.status = S.VOIDED
            payment.save(update_fields=["status", "updated_at"])
            return outcome_of(payment, "voided")
    if payment.status in (S.CAPTURED, S.PARTIALLY_REFUNDED):
        return payment_refund_for_saga(payment=payment, reason=reason, idempotency_key=refund_key)
    return outcome_of(payment, "refunded" if payment.status == S.REFUNDED else "voided")


def payment_refund_for_saga(*, payment: Payment, reason: str, idempotency_key: str) -> dict:
    if payment.status in (S.PENDING, S.AUTHORIZED):
        return payment_void(payment=payment, reason=reason, refund_key=idempotency_key)
    if payment.status not in (S.CAPTURED, S.PARTIALLY_REFUNDED):
        return outcome_of(payment, "refunded" if payment.status == S.REFUNDED else "voided")
    payment_refund(
        payment=payment, amount=None, reason=reason[:200], actor=None, idempotency_key=idempotency_key
    )
    payment.refresh_from_db()
    return outcome_of(payment, "refunded")


def payment_for_saga(
    *, payment_id: str, user_id: int | None = None, authorize_key: str = ""
) -> Payment | None:
    if payment_id and payment_id.isdigit():
        return Payment.objects.filter(pk=int(payment_id)).first()
    if authorize_key and user_id is not None:
        return Payment.objects.filter(idempotency_key=_authorize_key(user_id, authorize_key)).first()
    return None


def _fail(payment: Payment, status: str, code: str, message: str) -> None:
    payment.status, payment.failure_code, payment.failure_message = status, code[:40], message[:200]
    payment.save()
