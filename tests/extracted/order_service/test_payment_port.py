"""The payment port: adapters registered by name, chosen per order, outcomes round-trip through replies."""

import pytest

from extracted.order_service.participants import payments
from extracted.order_service.participants.payment_monolith import MonolithPayments
from extracted.order_service.participants.payments import PaymentOutcome


def test_the_monolith_adapter_is_built_in_and_the_default_choice(settings):
    assert isinstance(payments.payment_adapter("monolith"), MonolithPayments)
    assert payments.choose_payment_adapter(user_id=1) == settings.ORDER_PAYMENT_ADAPTER == "monolith"


def test_another_stage_registers_its_own_adapter_under_its_name(monkeypatch, settings):
    class Recording:
        name = "payment_service"

    monkeypatch.setattr(payments, "PAYMENT_ADAPTERS", dict(payments.PAYMENT_ADAPTERS))
    monkeypatch.setattr(payments, "_instances", {})
    payments.register_payment_adapter("payment_service", Recording)
    assert isinstance(payments.payment_adapter("payment_service"), Recording)
    with pytest.raises(LookupError, match="no payment adapter 'nope'"):
        payments.payment_adapter("nope")


def test_an_outcome_travels_as_a_dict_and_a_refusal_says_so():
    outcome = PaymentOutcome(
        "declined", payment_id="42", status="declined", code="card_declined", message="no"
    )
    assert PaymentOutcome.from_dict(outcome.to_dict()) == outcome
    assert outcome.refused
    assert not PaymentOutcome("pending").refused
