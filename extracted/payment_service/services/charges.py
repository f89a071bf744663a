"""Asynchronous charges: `payment_create` records a pending payment once per idempotency key and hands
it to a worker; `payment_advance` is the worker's step (antifraud, authorize, capture), safe to run again
at any moment: provider calls carry keys derived from the payment's own, so a repeated call is replayed by
the provider, and every state change goes through `payment_transition` (forward only, audited, evented).

A step that cannot reach the provider raises `ProviderUnavailable`; the Celery task retries it with
backoff and jitter until the payment's deadline (`payment_give_up` then fails it, flagging the outcome as
unknown when an answer was lost, for the reconciler).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..antifraud import FraudFacts, FraudRules, FraudVerdict, fraud_assess
from ..audit import audit_record
from ..errors import ApplicationError, ConflictError
from ..keys import card_fingerprint
from ..models import BlockedBin, BlockedCountry, Card, Payment
from ..providers import CardDetails, CardRejected, ProviderRejected, ProviderUnavailable, provider
from ..velocity import velocity_record, velocity_record_decline
from .cards import card_tokenize, digits_are_a_card, gateway_resolve
from .compensation import one_at_a_time, void_key, voided_before
from .state import payment_synced, payment_transition

log = logging.getLogger(__name__)
S = Payment.Status
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ChargeRequest:
    """What a caller asks to be charged. Exactly one of `card` (typed by the customer: tokenized now, never
    kept) and `card_id` (registered earlier) is given."""

    order_number: str
    user_id: int
    amount: Decimal
    currency: str
    idempotency_key: str
    gateway: str | None = None
    card: CardDetails | None = None
    card_id: str | None = None
    capture: bool = True
    shipping_country: str = ""
    billing_name: str = ""
    billing_address: dict[str, Any] | None = None
    client_ip: str | None = None
    deadline: dt.datetime | None = None


def scoped_key(scope: str, owner_id: int | str, client_key: str) -> str:
    """A client's Idempotency-Key is unique only for that client: scope it to its owner (the user for a
    charge, the payment for a refund) before it becomes a unique column and a provider key. The same
    derivation as the monolith's, so one key names one payment on both sides."""
    return hashlib.sha256(f"{scope}:{owner_id}:{client_key}".encode()).hexdigest()[:48]


def _request_hash(request: ChargeRequest, gateway: str) -> str:
    text = f"{request.order_number}|{request.amount:.2f}|{request.currency}|{gateway}|{request.capture}"
    return hashlib.sha256(text.encode()).hexdigest()


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def payment_submit(request: ChargeRequest) -> tuple[Payment, bool]:
    """What POST /internal/v1/payments and gRPC PaymentService.Authorize both do: record the charge once per
    key (payment_create), then hand a new pending payment to the worker once the transaction commits."""
    payment, created = payment_create(request)
    if created and payment.status == Payment.Status.PENDING:
        from ..tasks import payment_process_enqueue

        payment_process_enqueue(payment.pk)
    return payment, created


def payment_create(request: ChargeRequest) -> tuple[Payment, bool]:
    """Record the charge (pending) once per key and schedule its processing. Returns (payment, created);
    a replay of the key returns the first payment, a reuse for another charge is 409."""
    gateway = gateway_resolve(request.gateway)
    if not request.idempotency_key:
        raise ApplicationError("idempotency_key_required", "An idempotency key is required to charge")
    amount = Decimal(request.amount).quantize(CENT)
    if amount <= 0:
        raise ApplicationError("payment_amount_invalid", "The amount must be positive to be charged")
    key = scoped_key("charge", request.user_id, request.idempotency_key)
    request_hash = _request_hash(request, gateway)
    existing = Payment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        return _replayed(existing, request_hash), False

    now = timezone.now()
    fields: dict[str, Any] = {"billing_name": request.billing_name}
    status, failure = S.PENDING, ("", "")
    if request.card_id:
        card = Card.objects.filter(pk=request.card_id, gateway=gateway).first()
        if card is None:
            raise ApplicationError("card_not_found", "No registered card with this id for this gateway")
        fields.update(_card_fields(card, request.billing_name))
    elif request.card is not None:
        card_fields, status, failure = _tokenized(request.card, gateway)
        fields.update(card_fields)
        fields["billing_name"] = request.billing_name or request.card.holder[:100]
    else:
        raise ApplicationError("card_required", "A charge needs a card or a card_id")
    deadline = now + dt.timedelta(seconds=settings.PAYMENT_CHARGE_DEADLINE_SECONDS)
    if request.deadline is not None:
        deadline = min(deadline, request.deadline)
    payment = Payment(
        origin=Payment.Origin.SERVICE,
        order_number=request.order_number,
        user_id=request.user_id,
        gateway=gateway,
        idempotency_key=key,
        request_hash=request_hash,
        mode=Payment.Mode.CAPTURE if request.capture else Payment.Mode.AUTHORIZE,
        amount=amount,
        currency=request.currency,
        status=S.PENDING,
        shipping_country=request.shipping_country.upper(),
        billing_address=request.billing_address,
        client_ip=_valid_ip(request.client_ip),
        deadline=deadline,
        created_at=now,
        updated_at=now,
        **fields,
    )
    try:
        with transaction.atomic():
            # a void by key (the caller gave up on this charge) either finds this row or left a tombstone
            one_at_a_time(void_key(request.order_number, request.idempotency_key))
            payment.version = 1
            payment.save(force_insert=True)
            payment_synced(payment)
            audit_record(
                event="payment.created",
                payment_id=payment.pk,
                data={"order_number": payment.order_number, "amount": f"{amount:.2f}", "gateway": gateway},
            )
            if voided_before(request.order_number, request.idempotency_key):
                payment, _ = payment_transition(
                    payment.pk,
                    S.VOIDED,
                    failure_code="voided_before_authorize",
                    failure_message="The caller voided this charge before it arrived; nothing was charged",
                )
                return payment, True
    except IntegrityError:  # a concurrent request with the same key won
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        return _replayed(existing, request_hash), False
    if status != S.PENDING:  # the card was refused before any charge: a final answer at once
        _record_attempt(payment)
        payment, _ = payment_transition(
            payment.pk, status, failure_code=failure[0], failure_message=failure[1]
        )
        velocity_record_decline(card=payment.card_fingerprint, attempt=payment.idempotency_key)
    return payment, True


def _replayed(payment: Payment, request_hash: str) -> Payment:
    if payment.request_hash and payment.request_hash != request_hash:
        raise ConflictError(
            "idempotency_key_reused",
            "This idempotency key already paid another charge",
            extra={"payment_id": payment.pk},
        )
    return payment


def _card_fields(card: Card, billing_name: str) -> dict[str, Any]:
    return {
        "card_id": card.pk,
        "card_token": card.token,
        "card_fingerprint": card.fingerprint,
        "card_brand": card.brand,
        "card_bin": card.bin,
        "card_last4": card.last4,
        "card_country": card.country,
        "billing_name": billing_name or card.holder,
    }


def _tokenized(card: CardDetails, gateway: str) -> tuple[dict[str, Any], str, tuple[str, str]]:
    """Card fields, and a final status when the card cannot be charged at all (declined or failed)."""
    digits = card.digits
    if not digits_are_a_card(digits):
        return {}, S.DECLINED, ("invalid_number", "The card number is not a card number")
    fields = {
        "card_fingerprint": card_fingerprint(digits),
        "card_bin": digits[:6],
        "card_last4": digits[-4:],
    }
    try:
        token = card_tokenize(card, gateway=gateway)
    except CardRejected as exc:
        return fields, S.DECLINED, (exc.code[:40], exc.message[:200])
    except ProviderUnavailable as exc:
        code = "gateway_timeout" if exc.timeout else "gateway_unavailable"
        return fields, S.FAILED, (code, str(exc)[:200])
    fields.update(card_token=token.token, card_brand=token.brand, card_country=token.country)
    return fields, S.PENDING, ("", "")


# --- the worker's step ------------------------------------------------------------------------------------
def payment_advance(payment_id: int) -> str:
    """Take the payment one step further, as far as it can go now; returns its status. Raises
    ProviderUnavailable when the provider must be asked again later (same keys: replayed, never doubled)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status == S.PENDING:
        if not payment.fraud_checked:
            verdict = _fraud_check(payment)
            if verdict.rejected:
                message = "Refused by antifraud: " + ", ".join(verdict.reasons)
                payment, _ = payment_transition(
                    payment.pk,
                    S.REJECTED_FRAUD,
                    failure_code="fraud_suspected",
                    failure_message=message[:200],
                )
                return payment.status
        payment = _authorize(payment)
    if payment.status == S.AUTHORIZED and (
        payment.mode == Payment.Mode.CAPTURE or payment.next_action == "capture"
    ):
        payment = payment_capture_now(payment.pk)
    return payment.status


def _record_attempt(payment: Payment):
    return velocity_record(
        user_id=payment.user_id, card=payment.card_fingerprint, attempt=payment.idempotency_key
    )


def fraud_facts(payment: Payment, velocity) -> FraudFacts:
    blocked = set(
        BlockedCountry.objects.filter(code__in=[payment.card_country, payment.shipping_country]).values_list(
            "code", flat=True
        )
    )
    return FraudFacts(
        amount=payment.amount,
        card_country=payment.card_country,
        shipping_country=payment.shipping_country,
        user_attempts=velocity.user_attempts,
        card_attempts=velocity.card_attempts,
        card_declines=velocity.card_declines,
        user_other_cards=velocity.user_other_cards,
        bin_blocked=bool(payment.card_bin) and BlockedBin.objects.filter(bin=payment.card_bin).exists(),
        card_country_blocked=bool(payment.card_country) and payment.card_country in blocked,
        shipping_country_blocked=bool(payment.shipping_country) and payment.shipping_country in blocked,
    )


def _fraud_check(payment: Payment) -> FraudVerdict:
    """The monolith's two looks: blocklists, amount and velocity first (what it knows before the card is
    tokenized); if they do not refuse, again with the card's issuing country."""
    rules = FraudRules.from_settings()
    facts = fraud_facts(payment, _record_attempt(payment))
    verdict = fraud_assess(dataclasses.replace(facts, card_country="", card_country_blocked=False), rules)
    if not verdict.rejected:
        verdict = fraud_assess(facts, rules)
    with transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(
            fraud_score=verdict.score, fraud_reasons=list(verdict.reasons), fraud_checked=True
        )
        audit_record(
            event="payment.fraud_assessed",
            payment_id=payment.pk,
            data={"score": verdict.score, "reasons": list(verdict.reasons), "rejected": verdict.rejected},
        )
    payment.fraud_score, payment.fraud_reasons, payment.fraud_checked = (
        verdict.score,
        list(verdict.reasons),
        True,
    )
    return verdict


def _provider_call(payment: Payment, call):
    """Run a provider call; count the attempt, and remember that an answer was lost on a timeout."""
    Payment.objects.filter(pk=payment.pk).update(attempts=payment.attempts + 1)
    payment.attempts += 1
    try:
        return call(provider(payment.gateway))
    except ProviderUnavailable as exc:
        if exc.timeout and not payment.outcome_unknown:
            Payment.objects.filter(pk=payment.pk).update(outcome_unknown=True)
            payment.outcome_unknown = True
        raise


def _authorize(payment: Payment) -> Payment:
    try:
        result = _provider_call(
            payment,
            lambda client: client.authorize(
                token=payment.card_token,
                amount=payment.amount,
                currency=payment.currency,
                reference=payment.order_number,
                idempotency_key=f"{payment.idempotency_key}:authorize",
            ),
        )
    except ProviderRejected as exc:
        payment, _ = payment_transition(
            payment.pk,
            S.FAILED,
            failure_code="gateway_rejected",
            failure_message=f"{exc.code}: {exc.message}"[:200],
        )
        return payment
    if result.status == "declined":
        payment, _ = payment_transition(
            payment.pk,
            S.DECLINED,
            gateway_ref=result.ref,
            outcome_unknown=False,
            failure_code=(result.decline_code or "card_declined")[:40],
            failure_message=(result.message or "Declined")[:200],
        )
        velocity_record_decline(card=payment.card_fingerprint, attempt=payment.idempotency_key)
        return payment
    status = S.CAPTURED if result.status == "captured" else S.AUTHORIZED
    payment, moved = payment_transition(payment.pk, status, gateway_ref=result.ref, outcome_unknown=False)
    if not moved and payment.status == S.FAILED:
        # Given up (deadline, cancellation) while this call ran: the provider holds money for a failed
        # payment. Flag it; the reconciler voids or refunds it.
        Payment.objects.filter(pk=payment.pk).update(outcome_unknown=True)
        return Payment.objects.get(pk=payment.pk)
    from .webhooks import webhook_apply_deferred

    webhook_apply_deferred(payment)
    payment.refresh_from_db()
    if payment.status == S.AUTHORIZED and payment.next_action == "void":
        return payment_void_now(payment.pk, actor="compensation", reason="cancelled during authorization")
    return payment


def payment_capture_now(payment_id: int) -> Payment:
    """Capture an authorized payment at the provider (its whole amount); replays are no-ops."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != S.AUTHORIZED:
        return payment
    try:
        result = _provider_call(
            payment,
            lambda client: client.capture(
                charge_ref=payment.gateway_ref,
                amount=payment.amount,
                currency=payment.currency,
                idempotency_key=f"{payment.idempotency_key}:capture",
            ),
        )
    except ProviderRejected as exc:
        # The provider will not capture (e.g. the authorization expired or was voided): ask what it holds.
        log.warning("capture refused", extra={"payment_id": payment.pk, "provider_code": exc.code})
        from .reconcile import payment_reconcile_one

        payment_reconcile_one(payment.pk)
        return Payment.objects.get(pk=payment.pk)
    if result.status == "captured":
        payment, _ = payment_transition(payment.pk, S.CAPTURED, outcome_unknown=False, next_action="")
    return Payment.objects.get(pk=payment.pk)


def payment_void_now(payment_id: int, *, actor: str = "", reason: str = "") -> Payment:
    """Release an authorization that will not be captured (the saga's compensation)."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != S.AUTHORIZED:
        return payment
    result = _provider_call(
        payment,
        lambda client: client.void(
            charge_ref=payment.gateway_ref, idempotency_key=f"{payment.idempotency_key}:void"
        ),
    )
    if result.status == "voided":
        payment, _ = payment_transition(
            payment.pk,
            S.VOIDED,
            actor=actor,
            audit_data={"reason": reason},
            outcome_unknown=False,
            next_action="",
        )
    return payment


def payment_give_up(payment_id: int, *, reason: str) -> Payment:
    """The deadline passed or the retries ran out: a pending payment fails. If a provider answer was lost,
    `outcome_unknown` stays set and the reconciler asks the provider what really happened."""
    payment = Payment.objects.get(pk=payment_id)
    if payment.status != S.PENDING:
        return payment
    code = "gateway_timeout" if payment.outcome_unknown else "gateway_unavailable"
    payment, _ = payment_transition(
        payment.pk, S.FAILED, failure_code=code, failure_message=reason[:200], audit_data={"reason": reason}
    )
    return payment
