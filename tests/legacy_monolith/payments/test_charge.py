"""payment_charge against the real sandbox gateways: outcomes, faults, reconciliation, idempotency."""

import logging
import socket

import pytest

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.payments.gateways import gateway_client
from legacy_monolith.payments.keys import scoped_key
from legacy_monolith.payments.models import BlockedBin, BlockedCountry, Payment
from legacy_monolith.payments.services import payment_charge
from tests.factories import OrderFactory

from .conftest import APPROVED, DECLINED, INSUFFICIENT_FUNDS, card

pytestmark = pytest.mark.django_db
GATEWAYS = ["cardinal", "northpay"]


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_an_approved_card_is_captured_and_only_token_and_last4_are_kept(sandbox, charge, gateway):
    payment = charge(APPROVED, gateway=gateway)
    assert payment.status == Payment.Status.CAPTURED
    assert payment.amount == payment.order.total
    assert (payment.card_brand, payment.card_bin, payment.card_last4) == ("visa", "424242", "4242")
    assert payment.card_country == "FR"
    assert payment.card_token
    assert payment.gateway_ref
    assert len(payment.card_fingerprint) == 64
    stored = str(Payment.objects.filter(pk=payment.pk).values().get())
    assert APPROVED not in stored
    [at_gateway] = sandbox.charges(gateway)
    assert at_gateway.get("id", at_gateway.get("transactionId")) == payment.gateway_ref


@pytest.mark.parametrize("gateway", GATEWAYS)
@pytest.mark.parametrize(
    ("number", "code"), [(DECLINED, "card_declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")]
)
def test_a_declined_card_is_recorded_with_the_decline_code(charge, gateway, number, code):
    payment = charge(number, gateway=gateway)
    assert payment.status == Payment.Status.DECLINED
    assert payment.failure_code == code
    assert payment.gateway_ref


@pytest.mark.parametrize("gateway", GATEWAYS)
@pytest.mark.parametrize(
    ("details", "code"),
    [
        ({"number": "4242424242424241"}, "invalid_number"),
        ({"number": APPROVED, "exp_year": 2001}, "expired_card"),
        ({"number": APPROVED, "cvc": "12"}, "invalid_cvc"),
        ({"number": "not a card"}, "invalid_number"),
    ],
)
def test_a_card_the_tokenizer_refuses_is_declined_without_a_charge(sandbox, gateway, details, code):
    order = OrderFactory(status="pending_payment")
    payment = payment_charge(
        order=order, card=card(**details), gateway=gateway, idempotency_key="bad-card", client_ip=None
    )
    assert (payment.status, payment.failure_code) == (Payment.Status.DECLINED, code)
    assert sandbox.charges(gateway) == []


def test_the_decline_rate_knob_declines_a_good_card_with_do_not_honor(sandbox, charge):
    sandbox.set_knobs("northpay", decline_rate=1.0)
    payment = charge(APPROVED, gateway="northpay")
    assert (payment.status, payment.failure_code) == (Payment.Status.DECLINED, "do_not_honor")


def test_a_blocked_bin_is_rejected_by_antifraud_before_the_gateway_sees_the_card(sandbox, charge):
    BlockedBin.objects.create(bin="424242", reason="test")
    payment = charge(APPROVED)
    assert payment.status == Payment.Status.REJECTED_FRAUD
    assert payment.failure_code == "fraud_suspected"
    assert payment.fraud_score == 100
    assert "bin_blocked" in payment.fraud_reasons
    assert payment.card_token == ""  # not even tokenized
    assert sandbox.charges("cardinal") == []


def test_a_card_issued_in_a_blocked_country_is_rejected_before_authorization(sandbox, charge):
    BlockedCountry.objects.create(code="US", reason="test")
    payment = charge(DECLINED)  # BIN 400000 is issued in the US
    assert payment.status == Payment.Status.REJECTED_FRAUD
    assert payment.fraud_reasons == ["card_country_blocked", "country_mismatch"]
    assert payment.card_country == "US"
    assert sandbox.charges("cardinal") == []


def test_an_order_shipped_to_a_blocked_country_is_rejected_before_the_gateway(sandbox, charge):
    BlockedCountry.objects.create(code="FR", reason="test")
    payment = charge(APPROVED)  # the factories ship to FR
    assert (payment.status, payment.fraud_reasons) == (
        Payment.Status.REJECTED_FRAUD,
        ["shipping_country_blocked"],
    )
    assert sandbox.charges("cardinal") == []


def test_a_customer_trying_many_cards_with_a_high_amount_is_rejected(sandbox, charge, settings):
    settings.PAYMENT_FRAUD_AMOUNT_HIGH = "10.00"
    first = charge(APPROVED)
    for number in ("4111111111111111", "4012888888881881", "5555555555554444"):
        charge(number, order=OrderFactory(user=first.user, status="pending_payment"))
    fifth = charge("5105105105105100", order=OrderFactory(user=first.user, status="pending_payment"))
    assert fifth.status == Payment.Status.REJECTED_FRAUD
    assert set(fifth.fraud_reasons) >= {"amount_high", "many_cards"}


def test_a_card_that_keeps_being_declined_is_stopped_by_velocity_rules(sandbox, charge):
    order = OrderFactory(status="pending_payment")
    outcomes = [charge(DECLINED, order=order, key=f"attempt-{i}").status for i in range(4)]
    assert outcomes == ["declined", "declined", "declined", "rejected_fraud"]
    rejected = Payment.objects.get(idempotency_key=scoped_key("charge", order.user_id, "attempt-3"))
    assert {"velocity_card", "card_declines"} <= set(rejected.fraud_reasons)
    assert len(sandbox.charges("cardinal")) == 3


@pytest.mark.parametrize("gateway", GATEWAYS)
def test_a_gateway_answering_errors_leaves_a_failed_payment(sandbox, charge, gateway):
    sandbox.set_knobs(gateway, error_rate=1.0)
    payment = charge(APPROVED, gateway=gateway)
    assert (payment.status, payment.failure_code) == (Payment.Status.FAILED, "gateway_unavailable")
    assert sandbox.charges(gateway) == []


def test_an_unreachable_gateway_leaves_a_failed_payment(sandbox, charge, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings.PAYMENT_GATEWAYS = {**settings.PAYMENT_GATEWAYS, "cardinal": f"http://127.0.0.1:{closed_port}/c"}
    payment = charge(APPROVED)
    assert (payment.status, payment.failure_code) == (Payment.Status.FAILED, "gateway_unavailable")


@pytest.mark.parametrize("gateway", GATEWAYS)
@pytest.mark.parametrize("operation", ["authorize", "capture"])
def test_a_timed_out_call_is_reconciled_by_a_status_lookup(sandbox, charge, settings, gateway, operation):
    settings.PAYMENT_READ_TIMEOUT = 0.4
    sandbox.set_knobs(gateway, timeout_rate=1.0, timeout_seconds=1.5, operations=[operation])
    payment = charge(APPROVED, gateway=gateway)
    assert payment.status == Payment.Status.CAPTURED
    assert len(sandbox.charges(gateway)) == 1


def test_a_timeout_the_lookup_cannot_resolve_leaves_a_failed_payment(sandbox, charge, settings):
    settings.PAYMENT_READ_TIMEOUT = 0.4
    sandbox.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=1.5, operations=["authorize", "status"])
    payment = charge(APPROVED)
    assert (payment.status, payment.failure_code) == (Payment.Status.FAILED, "gateway_timeout")


def test_charging_twice_with_the_same_key_returns_the_same_payment_and_charges_once(sandbox, charge):
    order = OrderFactory(status="pending_payment")
    first = charge(APPROVED, order=order, key="same-key")
    again = charge(APPROVED, order=order, key="same-key")
    assert again.pk == first.pk
    assert Payment.objects.filter(order=order).count() == 1
    assert len(sandbox.charges("cardinal")) == 1


def test_a_failed_payment_is_replayed_as_failed_without_calling_the_gateway_again(sandbox, charge):
    order = OrderFactory(status="pending_payment")
    sandbox.set_knobs("cardinal", error_rate=1.0)
    first = charge(APPROVED, order=order, key="k-failed")
    sandbox.set_knobs("cardinal", error_rate=0.0)
    again = charge(APPROVED, order=order, key="k-failed")
    assert (again.pk, again.status) == (first.pk, Payment.Status.FAILED)
    assert sandbox.charges("cardinal") == []


def test_the_same_key_for_another_order_of_the_same_user_is_a_conflict(charge):
    order = OrderFactory(status="pending_payment")
    charge(APPROVED, order=order, key="shared")
    with pytest.raises(ApplicationError) as excinfo:
        charge(APPROVED, order=OrderFactory(user=order.user, status="pending_payment"), key="shared")
    assert excinfo.value.code == "idempotency_key_reused"


def test_two_customers_may_use_the_same_idempotency_key(charge):
    first, second = charge(APPROVED, key="popular-key"), charge(APPROVED, key="popular-key")
    assert first.pk != second.pk
    assert {first.status, second.status} == {Payment.Status.CAPTURED}


def test_a_charge_interrupted_after_authorization_is_resumed_with_the_gateways_result(sandbox, charge):
    """A crash after the gateway authorized (our row rolled back) and a retry: the retry tokenizes again,
    so its authorize body differs; the gateway's idempotency conflict is resolved by a lookup."""
    order = OrderFactory(status="pending_payment")
    client = gateway_client("cardinal")
    key = scoped_key("charge", order.user_id, "crashy")
    earlier = client.authorize(
        token=client.tokenize(card()).token,
        amount=order.total,
        currency="EUR",
        reference=order.number,
        idempotency_key=f"{key}:authorize",
    )
    payment = charge(APPROVED, order=order, key="crashy")
    assert payment.status == Payment.Status.CAPTURED
    assert payment.gateway_ref == earlier.ref
    assert len(sandbox.charges("cardinal")) == 1


def test_an_unknown_gateway_is_refused(sandbox, charge):
    with pytest.raises(ApplicationError) as excinfo:
        charge(APPROVED, gateway="paypal")
    assert excinfo.value.code == "payment_gateway_unknown"


def test_the_card_number_reaches_neither_logs_nor_reprs(sandbox, charge, caplog):
    caplog.set_level(logging.DEBUG)
    charge(APPROVED)
    charge(DECLINED)
    assert APPROVED not in caplog.text
    assert DECLINED not in caplog.text
    assert APPROVED not in repr(card(APPROVED))
    assert "123" not in repr(card(APPROVED))
