"""Charges against the real sandbox: one step at a time (the worker's step), every outcome."""

from __future__ import annotations

import pytest

from chassis.outbox.models import OutboxEvent
from extracted.payment_service.audit import audit_verify
from extracted.payment_service.models import Payment
from extracted.payment_service.services.charges import payment_advance, payment_create

from .conftest import DECLINED, card, charge_request

pytestmark = pytest.mark.django_db


def test_an_approved_card_is_authorized_then_captured_with_events_and_audit(providers):
    payment, created = payment_create(charge_request())
    assert created
    assert payment.status == Payment.Status.PENDING
    assert payment_advance(payment.pk) == Payment.Status.CAPTURED
    payment.refresh_from_db()
    assert payment.card_last4 == "4242"
    assert payment.card_brand == "visa"
    assert payment.gateway_ref.startswith("ch_")
    assert [e.type for e in OutboxEvent.objects.exclude(type="payment.synced").order_by("id")] == [
        "payment.authorized",
        "payment.captured",
    ]
    charges = providers.charges("cardinal")
    assert len(charges) == 1
    assert charges[0]["status"] == "succeeded"
    assert audit_verify().ok


def test_a_declined_card_fails_with_the_decline_code(providers):
    payment, _ = payment_create(charge_request(card=card(DECLINED)))
    assert payment_advance(payment.pk) == Payment.Status.DECLINED
    payment.refresh_from_db()
    assert payment.failure_code == "card_declined"
    assert [e.type for e in OutboxEvent.objects.exclude(type="payment.synced").order_by("id")] == [
        "payment.failed"
    ]


def test_a_replayed_key_returns_the_first_payment_and_charges_once(providers):
    request = charge_request()
    first, _ = payment_create(request)
    payment_advance(first.pk)
    again, created = payment_create(request)
    assert not created
    assert again.pk == first.pk
    payment_advance(again.pk)
    assert len(providers.charges("cardinal")) == 1


def test_a_blocked_bin_is_rejected_by_antifraud_before_any_authorization(providers):
    from extracted.payment_service.models import BlockedBin

    BlockedBin.objects.create(bin="424242", reason="test")
    payment, _ = payment_create(charge_request())
    assert payment_advance(payment.pk) == Payment.Status.REJECTED_FRAUD
    payment.refresh_from_db()
    assert payment.fraud_score == 100
    assert payment.fraud_reasons == ["bin_blocked"]
    assert payment.failure_code == "fraud_suspected"
    assert providers.charges("cardinal") == []  # tokenized, never authorized


def test_northpay_declines_with_its_refusal_mapped_to_a_stable_code(providers):
    from .conftest import INSUFFICIENT

    payment, _ = payment_create(charge_request(gateway="northpay", card=card(INSUFFICIENT)))
    assert payment_advance(payment.pk) == Payment.Status.DECLINED
    payment.refresh_from_db()
    assert payment.failure_code == "insufficient_funds"


def test_a_card_the_provider_refuses_to_tokenize_is_declined_at_once(providers):
    payment, created = payment_create(charge_request(card=card("4242424242424241")))  # Luhn fails
    assert created
    assert payment.status == Payment.Status.DECLINED
    assert payment.failure_code == "invalid_number"


def test_an_unreachable_provider_asks_for_a_retry_and_the_retry_charges_once(providers):
    from extracted.payment_service.providers import ProviderUnavailable

    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", error_rate=1.0, operations=["authorize"])
    with pytest.raises(ProviderUnavailable):
        payment_advance(payment.pk)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PENDING
    assert payment.attempts == 1
    providers.set_knobs("cardinal", error_rate=0.0)
    assert payment_advance(payment.pk) == Payment.Status.CAPTURED
    assert len(providers.charges("cardinal")) == 1


def test_a_lost_answer_is_found_by_its_idempotency_key(providers, settings):
    settings.PAYMENT_READ_TIMEOUT = 0.3
    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=1.0, operations=["authorize"])
    assert payment_advance(payment.pk) == Payment.Status.CAPTURED  # authorize timed out, the lookup found it
    assert len(providers.charges("cardinal")) == 1


def test_authorize_only_waits_for_a_capture_or_a_void(providers):
    from extracted.payment_service.services.charges import payment_capture_now, payment_void_now

    first, _ = payment_create(charge_request(capture=False))
    assert payment_advance(first.pk) == Payment.Status.AUTHORIZED
    assert payment_capture_now(first.pk).status == Payment.Status.CAPTURED
    second, _ = payment_create(charge_request(capture=False))
    payment_advance(second.pk)
    assert payment_void_now(second.pk).status == Payment.Status.VOIDED
    statuses = sorted(c["status"] for c in providers.charges("cardinal"))
    assert statuses == ["canceled", "succeeded"]


def test_giving_up_fails_a_pending_payment_and_flags_a_lost_answer(providers, settings):
    from extracted.payment_service.providers import ProviderUnavailable
    from extracted.payment_service.services.charges import payment_give_up

    settings.PAYMENT_READ_TIMEOUT = 0.3
    payment, _ = payment_create(charge_request())
    providers.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=1.0, operations=["authorize", "status"])
    with pytest.raises(ProviderUnavailable):
        payment_advance(payment.pk)  # the authorization happened, its answer and the lookup were lost
    payment = payment_give_up(payment.pk, reason="deadline passed")
    assert payment.status == Payment.Status.FAILED
    assert payment.outcome_unknown
    assert payment.failure_code == "gateway_timeout"


def test_a_key_reused_for_another_charge_is_a_conflict(providers):
    from extracted.payment_service.errors import ConflictError

    request = charge_request()
    payment_create(request)
    with pytest.raises(ConflictError) as refused:
        payment_create(charge_request(idempotency_key=request.idempotency_key, amount=request.amount + 1))
    assert refused.value.code == "idempotency_key_reused"
