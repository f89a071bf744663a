"""payment_charge: tokenize at the gateway, run antifraud, authorize and capture; always record a Payment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import logging

from django.conf import settings
from django.db import transaction

from legacy_monolith.core.errors import ApplicationError, ConflictError
from legacy_monolith.orders.models import Order

from .. import selectors
from ..antifraud import FraudFacts, FraudRules, FraudVerdict, assess
from ..gateways import (
    CardDetails,
    CardRejected,
    ChargeResult,
    GatewayClient,
    GatewayRejected,
    GatewayUnavailable,
    gateway_client,
    gateway_names,
)
from ..keys import card_fingerprint, scoped_key
from ..models import Payment

log = logging.getLogger(__name__)

S = Payment.Status
FINAL_STATUSES = {S.CAPTURED, S.DECLINED, S.REJECTED_FRAUD, S.FAILED, S.REFUNDED, S.PARTIALLY_REFUNDED}


def payment_charge(
    *, order: Order, card: CardDetails, gateway: str | None, idempotency_key: str, client_ip: str | None
) -> Payment:
    """Charge the order's total once per idempotency key. Returns the Payment whatever the outcome:
    CAPTURED, DECLINED, REJECTED_FRAUD or FAILED. Does not touch the order's status or stock.

    The payment row stays locked while the gateway is called, so a concurrent replay waits and then gets
    the same Payment. Gateway keys derive from ours, so a retry after a crash is safe at the gateway too.
    """
    gateway = gateway or settings.PAYMENT_DEFAULT_GATEWAY
    if gateway not in gateway_names():
        raise ApplicationError(
            "payment_gateway_unknown",
            f"Unknown payment gateway {gateway!r}",
            extra={"gateway": gateway, "known": gateway_names()},
        )
    if not idempotency_key:
        raise ApplicationError("idempotency_key_required", "An idempotency key is required to charge")
    if order.total <= 0:
        raise ApplicationError("payment_amount_invalid", "The order total must be positive to be charged")
    key = scoped_key("charge", order.user_id, idempotency_key)
    with transaction.atomic():
        payment, _created = Payment.objects.select_for_update().get_or_create(
            idempotency_key=key,
            defaults={
                "order": order,
                "user_id": order.user_id,
                "gateway": gateway,
                "amount": order.total,
                "currency": order.currency,
                "client_ip": _valid_ip(client_ip),
            },
        )
        if payment.order_id != order.pk:
            raise ConflictError("idempotency_key_reused", "This idempotency key already paid another order")
        if payment.status in FINAL_STATUSES:
            return payment
        try:
            client = gateway_client(payment.gateway)
        except GatewayUnavailable as exc:
            _unavailable(payment, exc)
        else:
            _charge(payment, order, card, client)
        payment.save()
    log.info(
        "payment charged",
        extra={"payment_id": payment.pk, "order": order.number, "status": payment.status, "gateway": gateway},
    )
    return payment


def _charge(payment: Payment, order: Order, card: CardDetails, client: GatewayClient) -> None:
    digits = card.digits
    if not digits.isdigit() or not 12 <= len(digits) <= 19:
        return _fail(payment, S.DECLINED, "invalid_number", "The card number is not a card number")
    payment.card_fingerprint = card_fingerprint(digits)
    payment.card_bin, payment.card_last4 = digits[:6], digits[-4:]
    rules = FraudRules.from_settings()

    # Blocklists, amount and velocity are known before any gateway call: a blocked BIN never leaves.
    facts = _fraud_facts(payment, order)
    verdict = assess(facts, rules)
    if verdict.rejected:
        return _reject(payment, verdict)

    try:
        token = client.tokenize(card)
    except CardRejected as exc:
        return _fail(payment, S.DECLINED, exc.code, exc.message)
    except GatewayUnavailable as exc:
        return _unavailable(payment, exc)
    payment.card_token, payment.card_brand, payment.card_country = token.token, token.brand, token.country

    verdict = assess(_with_card_country(facts, token.country), rules)
    payment.fraud_score, payment.fraud_reasons = verdict.score, list(verdict.reasons)
    if verdict.rejected:
        return _reject(payment, verdict)

    try:
        result = client.authorize(
            token=token.token,
            amount=payment.amount,
            currency=payment.currency,
            reference=order.number,
            idempotency_key=f"{payment.idempotency_key}:authorize",
        )
        payment.gateway_ref = result.ref
        if result.status == "declined":
            return _fail(
                payment, S.DECLINED, result.decline_code or "card_declined", result.message or "Declined"
            )
        if result.status == "authorized":
            payment.status = S.AUTHORIZED
            payment.save()
            result = client.capture(
                charge_ref=result.ref,
                amount=payment.amount,
                currency=payment.currency,
                idempotency_key=f"{payment.idempotency_key}:capture",
            )
    except GatewayUnavailable as exc:
        return _unavailable(payment, exc)
    except GatewayRejected as exc:
        return _fail(payment, S.FAILED, "gateway_rejected", f"{exc.code}: {exc.message}")
    _settle(payment, result)
    return None


def _settle(payment: Payment, result: ChargeResult) -> None:
    if result.status == "captured":
        payment.status, payment.failure_code, payment.failure_message = S.CAPTURED, "", ""
    else:
        _fail(payment, S.FAILED, "capture_failed", f"The gateway left the charge {result.status}")


def _fraud_facts(payment: Payment, order: Order) -> FraudFacts:
    velocity = selectors.payment_velocity(
        user_id=payment.user_id,
        card_fingerprint=payment.card_fingerprint,
        window=dt.timedelta(seconds=settings.PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS),
        exclude_payment_id=payment.pk,
    )
    return FraudFacts(
        amount=payment.amount,
        shipping_country=order.shipping_country,
        user_attempts=velocity.user_attempts,
        card_attempts=velocity.card_attempts,
        card_declines=velocity.card_declines,
        user_other_cards=velocity.user_other_cards,
        bin_blocked=selectors.bin_is_blocked(payment.card_bin),
        shipping_country_blocked=selectors.country_is_blocked(order.shipping_country),
    )


def _with_card_country(facts: FraudFacts, country: str) -> FraudFacts:
    return dataclasses.replace(
        facts, card_country=country, card_country_blocked=selectors.country_is_blocked(country)
    )


def _reject(payment: Payment, verdict: FraudVerdict) -> None:
    payment.fraud_score, payment.fraud_reasons = verdict.score, list(verdict.reasons)
    _fail(payment, S.REJECTED_FRAUD, "fraud_suspected", "Refused by antifraud: " + ", ".join(verdict.reasons))


def _unavailable(payment: Payment, exc: GatewayUnavailable) -> None:
    _fail(payment, S.FAILED, "gateway_timeout" if exc.timeout else "gateway_unavailable", str(exc))


def _fail(payment: Payment, status: str, code: str, message: str) -> None:
    payment.status, payment.failure_code, payment.failure_message = status, code[:40], message[:200]


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None
