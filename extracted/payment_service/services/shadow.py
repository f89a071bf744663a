"""Shadow mode: the Payment service as the candidate of checkout's payment, on copies the gateway mirrors
(`X-Strangler-Shadow: 1`, a rewritten Idempotency-Key). Such a copy runs the whole payment path and moves
no money:

1. the order it pays for: the customer's newest order at the order's owner (`PAYMENT_ORDER_LOOKUP_URL`,
   the monolith or the gateway, with the customer's own credential), which the legacy checkout has just
   created (a copy may arrive while legacy still works: it waits for the order to settle); when there is
   none recent enough (legacy refused before creating one) the copy answers 409 `shadow_order_not_found`;
2. the card checks, antifraud (velocity counted in the shadow namespace: the mirrored traffic's own
   history, real counters untouched) and tokenize, authorize and capture at the provider's TEST MODE
   (PAYMENT_<GATEWAY>_TEST_URL, PAYMENT_TEST_API_KEY), with keys derived from the rewritten key;
3. the answer in the monolith's checkout shape for what the payment decides: 201 (200 on a replay of the
   key) with the payment block, or the monolith's 402/503 error.

What it writes: one ShadowCharge row (its own table, never read by anything but marked requests, never
synced, reconciled or evented) so that mirrored reads of the payment (`GET /api/v1/payments/<id>`,
`?order=N`) can be compared, fraud score included. No Payment, Refund, outbox or audit row; no event.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..antifraud import FraudRules, fraud_assess
from ..errors import ApplicationError
from ..keys import card_fingerprint
from ..models import Payment, ShadowCharge
from ..providers import CardDetails, CardRejected, ProviderRejected, ProviderUnavailable, provider
from ..velocity import velocity_record, velocity_record_decline
from .cards import card_tokenize, digits_are_a_card, gateway_resolve
from .charges import fraud_facts, scoped_key

log = logging.getLogger(__name__)
S = Payment.Status
CLAIMED = "claimed"  # a copy is working on this key


@dataclass(frozen=True)
class ShadowAnswer:
    status: int
    body: dict[str, Any]


def order_lookup(credential: tuple[tuple[str, str], ...]) -> dict | None:
    """The customer's newest order at its owner (None: the customer has none)."""
    try:
        answer = requests.get(
            settings.PAYMENT_ORDER_LOOKUP_URL.rstrip("/") + "/api/v1/orders",
            params={"page": 1, "page_size": 1},
            headers=dict(credential),
            timeout=(1.0, settings.PAYMENT_ORDER_LOOKUP_TIMEOUT),
            allow_redirects=False,
        )
        results = answer.json()["results"] if answer.status_code == 200 else None
    except (requests.RequestException, ValueError, KeyError, TypeError):
        results = None
    if results is None:
        raise ApplicationError("order_lookup_unavailable", "The order's owner could not be asked", status=503)
    return results[0] if results else None


def order_just_placed(credential: tuple[tuple[str, str], ...], *, since: dt.datetime) -> dict | None:
    """The order this copy's checkout placed: the customer's newest order, created at most
    PAYMENT_SHADOW_ORDER_MAX_AGE_SECONDS before the copy arrived and settled (paid or failed, not still
    charging). A copy can arrive while legacy is still checking out: wait for it, up to
    PAYMENT_SHADOW_ORDER_WAIT_SECONDS. None: no such order (legacy refused before creating one)."""
    oldest = since - dt.timedelta(seconds=settings.PAYMENT_SHADOW_ORDER_MAX_AGE_SECONDS)
    give_up = time.monotonic() + settings.PAYMENT_SHADOW_ORDER_WAIT_SECONDS
    while True:
        order = order_lookup(credential)
        created = parse_datetime(str((order or {}).get("created_at") or ""))
        if (
            order is not None
            and created is not None
            and created >= oldest
            and order.get("status") != "pending_payment"
        ):
            return order
        if time.monotonic() >= give_up:
            return None
        time.sleep(0.1)


def shadow_checkout(
    *,
    user_id: int,
    credential: tuple[tuple[str, str], ...],
    key: str,
    checkout: dict[str, Any],
    received: dt.datetime | None = None,
) -> ShadowAnswer:
    """Run the payment of a mirrored checkout. The first copy of a key to arrive claims it (a pending
    ShadowCharge) and runs the payment; any other copy of the key waits for that outcome.

    Which copy answers as the original (201) and which as a replay (200), as the monolith answered them,
    does not depend on arrival order: copies of a checkout and of its replay can reach this service in either
    order (the gateway sends them in the background; the first one may still be authenticating its
    credential at the monolith when the replay's copy arrives). `received` (the gateway's
    X-Strangler-Shadow-Received) decides: a copy received after the legacy order was created, or after the
    copy that claimed the key, is a replay. Without it, the copy that claimed is the original."""
    timed = received is not None
    received = received or timezone.now()
    shadow_key = scoped_key("shadow-charge", user_id, key)
    try:
        with transaction.atomic():
            charge = ShadowCharge.objects.create(
                shadow_key=shadow_key, user_id=user_id, amount=0, status=CLAIMED, created_at=received
            )
    except IntegrityError:
        first = _settled(shadow_key)
        return _answer(first, replay=not timed or received >= first.created_at)
    try:
        answer = _run(charge, credential=credential, checkout=checkout, since=received, timed=timed)
    except BaseException:
        ShadowCharge.objects.filter(pk=charge.pk).delete()  # let a later copy try again
        raise
    return answer


def _settled(shadow_key: str) -> ShadowCharge:
    give_up = time.monotonic() + settings.PAYMENT_SHADOW_ORDER_WAIT_SECONDS + 10
    while time.monotonic() < give_up:
        charge = ShadowCharge.objects.filter(shadow_key=shadow_key).first()
        if charge is None:
            break
        if charge.status != CLAIMED:
            return charge
        time.sleep(0.05)
    raise ApplicationError(
        "shadow_copy_in_progress", "The first copy of this checkout has not finished", status=409
    )


def _run(
    charge: ShadowCharge, *, credential, checkout: dict[str, Any], since: dt.datetime, timed: bool
) -> ShadowAnswer:
    order = order_just_placed(credential, since=since)
    if order is None:
        raise ApplicationError(
            "shadow_order_not_found",
            "No order was just placed: the legacy checkout refused this one",
            status=409,
        )
    try:
        amount = Decimal(str(order["total"]))
    except (KeyError, InvalidOperation):
        raise ApplicationError(
            "order_lookup_unavailable", "The order's owner answered no total", status=503
        ) from None
    if amount <= 0:
        ShadowCharge.objects.filter(pk=charge.pk).delete()
        return ShadowAnswer(201, {"payment": None})
    payment_input = checkout["payment"]
    charge.legacy_payment_id = (order.get("payment") or {}).get("id")
    charge.order_number = str(order.get("number", ""))[:20]
    charge.gateway = gateway_resolve(payment_input.get("gateway"))
    charge.amount, charge.currency = amount, str(order.get("currency", "EUR"))
    charge.shipping_country = str((order.get("shipping") or {}).get("country", ""))[:2].upper()
    charge.status = S.PENDING
    _dry_run(charge, CardDetails(**payment_input["card"]))
    charge.save()
    # The legacy order already existed when the gateway received this copy's request: it is the replay
    # (of a checkout whose own copy has not arrived yet). Only the gateway's time can say so: this
    # service's arrival time is later than the order's creation for most originals too.
    placed = parse_datetime(str(order.get("created_at") or ""))
    return _answer(charge, replay=timed and placed is not None and placed < since)


def _dry_run(charge: ShadowCharge, card: CardDetails) -> None:
    """The payment path, against the provider's test mode; the outcome is set on `charge`."""
    digits = card.digits
    if not digits_are_a_card(digits):
        return _fail(charge, S.DECLINED, "invalid_number", "The card number is not a card number")
    charge.card_fingerprint, charge.card_bin, charge.card_last4 = (
        card_fingerprint(digits),
        digits[:6],
        digits[-4:],
    )
    facts = fraud_facts(
        charge.as_payment(),
        velocity_record(
            user_id=charge.user_id, card=charge.card_fingerprint, attempt=charge.shadow_key, shadow=True
        ),
    )
    rules = FraudRules.from_settings()
    # As the monolith: blocklists, amount and velocity decide before any provider call; the card's country
    # (known once tokenized) is added after.
    verdict = fraud_assess(dataclasses.replace(facts, card_country="", card_country_blocked=False), rules)
    if verdict.rejected:
        return _reject(charge, verdict)
    try:
        token = card_tokenize(card, gateway=charge.gateway, test=True)
    except CardRejected as exc:
        return _fail(charge, S.DECLINED, exc.code, exc.message)
    except ProviderUnavailable as exc:
        return _unavailable(charge, exc)
    charge.card_brand, charge.card_country = token.brand, token.country
    verdict = fraud_assess(fraud_facts(charge.as_payment(), _counts(facts)), rules)
    charge.fraud_score, charge.fraud_reasons = verdict.score, list(verdict.reasons)
    if verdict.rejected:
        return _reject(charge, verdict)
    client = provider(charge.gateway, test=True)
    try:
        result = client.authorize(
            token=token.token,
            amount=charge.amount,
            currency=charge.currency,
            reference=charge.order_number,
            idempotency_key=f"{charge.shadow_key}:authorize",
        )
        charge.gateway_ref = result.ref
        if result.status == "declined":
            velocity_record_decline(card=charge.card_fingerprint, attempt=charge.shadow_key, shadow=True)
            return _fail(
                charge, S.DECLINED, result.decline_code or "card_declined", result.message or "Declined"
            )
        if result.status == "authorized":
            result = client.capture(
                charge_ref=result.ref,
                amount=charge.amount,
                currency=charge.currency,
                idempotency_key=f"{charge.shadow_key}:capture",
            )
    except ProviderUnavailable as exc:
        return _unavailable(charge, exc)
    except ProviderRejected as exc:
        return _fail(charge, S.FAILED, "gateway_rejected", f"{exc.code}: {exc.message}")
    if result.status == "captured":
        charge.status = S.CAPTURED
    else:
        _fail(charge, S.FAILED, "capture_failed", f"The gateway left the charge {result.status}")
    return None


def _counts(facts):
    from ..velocity import Velocity

    return Velocity(facts.user_attempts, facts.card_attempts, facts.card_declines, facts.user_other_cards)


def _reject(charge: ShadowCharge, verdict) -> None:
    charge.fraud_score, charge.fraud_reasons = verdict.score, list(verdict.reasons)
    _fail(charge, S.REJECTED_FRAUD, "fraud_suspected", "Refused by antifraud: " + ", ".join(verdict.reasons))


def _unavailable(charge: ShadowCharge, exc: ProviderUnavailable) -> None:
    _fail(charge, S.FAILED, "gateway_timeout" if exc.timeout else "gateway_unavailable", str(exc))


def _fail(charge: ShadowCharge, status: str, code: str, message: str) -> None:
    charge.status, charge.failure_code, charge.failure_message = status, code[:40], message[:200]


def _answer(charge: ShadowCharge, *, replay: bool) -> ShadowAnswer:
    """What the monolith's checkout answers for this payment outcome (the payment's part of it)."""
    extra = {"order_number": charge.order_number, "payment_id": None}
    if charge.status == S.CAPTURED:
        block = {
            "id": None,
            "status": charge.status,
            "gateway": charge.gateway,
            "card_last4": charge.card_last4,
            "card_brand": charge.card_brand,
        }
        return ShadowAnswer(200 if replay else 201, {"payment": block})
    if charge.status == S.DECLINED:
        message = "The card was declined" + (f" ({charge.failure_message})" if charge.failure_message else "")
        body = {
            "code": "payment_declined",
            "message": message,
            "extra": {**extra, "decline_code": charge.failure_code},
        }
        return ShadowAnswer(402, body)
    if charge.status == S.REJECTED_FRAUD:
        return ShadowAnswer(
            402,
            {
                "code": "payment_rejected_fraud",
                "message": "The payment was refused by our fraud checks",
                "extra": extra,
            },
        )
    message = "The payment provider could not complete the charge; the order was not placed, try again later"
    return ShadowAnswer(503, {"code": "payment_gateway_unavailable", "message": message, "extra": extra})
