"""payment_refund against the real sandbox: full, partial, limits, replays, gateway faults."""

from decimal import Decimal

import pytest

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment, Refund
from legacy_monolith.payments.services import payment_refund

from .conftest import APPROVED, DECLINED

pytestmark = pytest.mark.django_db


def refund(payment, amount=None, key="refund-key-1", actor=None):
    return payment_refund(payment=payment, amount=amount, reason="test", actor=actor, idempotency_key=key)


def test_a_full_refund_refunds_the_payment_and_the_order(sandbox, charge, staff_user):
    payment = charge(APPROVED)
    made = refund(payment, actor=staff_user)
    payment.refresh_from_db()
    assert (made.amount, made.status, made.actor) == (payment.amount, Refund.Status.SUCCEEDED, staff_user)
    assert made.gateway_ref.startswith("re_")
    assert (payment.status, payment.amount_refunded) == (Payment.Status.REFUNDED, payment.amount)
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.REFUNDED
    [at_gateway] = sandbox.charges("cardinal")
    assert at_gateway["amount_refunded"] == int(payment.amount * 100)


def test_partial_refunds_add_up_and_the_last_one_completes_the_refund(sandbox, charge):
    payment = charge(APPROVED)  # 19.99
    refund(payment, Decimal("5.00"), key="part-one")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (Payment.Status.PARTIALLY_REFUNDED, Decimal("5.00"))
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.PARTIALLY_REFUNDED
    rest = refund(payment, None, key="part-two")
    payment.refresh_from_db()
    assert rest.amount == Decimal("14.99")
    assert payment.status == Payment.Status.REFUNDED
    assert Order.objects.get(pk=payment.order_id).status == Order.Status.REFUNDED


@pytest.mark.parametrize("gateway", ["cardinal", "northpay"])
def test_a_refund_above_what_remains_is_refused_before_the_gateway(sandbox, charge, gateway):
    payment = charge(APPROVED, gateway=gateway)
    refund(payment, Decimal("10.00"), key="first-part")
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment, Decimal("10.00"), key="too-much")
    assert (excinfo.value.code, excinfo.value.status_code) == ("refund_exceeds_payment", 400)
    assert excinfo.value.extra == {"requested": "10.00", "remaining": "9.99"}
    assert Refund.objects.filter(payment=payment).count() == 1


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1.00")])
def test_a_refund_must_be_positive(sandbox, charge, amount):
    payment = charge(APPROVED)
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment, amount)
    assert excinfo.value.code == "refund_amount_invalid"


def test_a_declined_payment_is_not_refundable(sandbox, charge):
    payment = charge(DECLINED)
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment)
    assert (excinfo.value.code, excinfo.value.status_code) == ("payment_not_refundable", 409)


def test_a_fully_refunded_payment_is_not_refundable_again(sandbox, charge):
    payment = charge(APPROVED)
    refund(payment, key="all-of-it")
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment, key="once-more")
    assert excinfo.value.code == "payment_not_refundable"


def test_replaying_a_refund_key_returns_the_same_refund_and_refunds_once(sandbox, charge):
    payment = charge(APPROVED)
    first = refund(payment, Decimal("3.00"), key="replayed")
    again = refund(payment, Decimal("3.00"), key="replayed")
    default_amount = refund(payment, None, key="replayed")
    assert again.pk == first.pk == default_amount.pk
    assert (first.replayed, again.replayed) == (False, True)
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("3.00")
    assert len(sandbox.charges("cardinal")[0]["refunds"]) == 1


def test_replaying_a_refund_key_with_another_amount_is_a_conflict(sandbox, charge):
    payment = charge(APPROVED)
    refund(payment, Decimal("3.00"), key="replayed")
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment, Decimal("4.00"), key="replayed")
    assert (excinfo.value.code, excinfo.value.status_code) == ("idempotency_key_reused", 409)


def test_a_northpay_refund_stays_pending_until_its_webhook(sandbox, charge):
    payment = charge(APPROVED, gateway="northpay")
    made = refund(payment)
    assert made.status == Refund.Status.PENDING
    assert made.gateway_ref.startswith("NPR")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED  # pending refunds count: no double refund
    sandbox.wait_for_event("northpay", "refund.succeeded")


def test_a_refund_while_the_gateway_is_down_records_nothing_and_can_be_retried(sandbox, charge):
    payment = charge(APPROVED)
    sandbox.set_knobs("cardinal", error_rate=1.0)
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment, key="retry-me")
    assert (excinfo.value.code, excinfo.value.status_code) == ("payment_gateway_unavailable", 503)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (Payment.Status.CAPTURED, 0)
    assert not Refund.objects.exists()
    sandbox.set_knobs("cardinal", error_rate=0.0)
    assert refund(payment, key="retry-me").status == Refund.Status.SUCCEEDED


def test_a_timed_out_refund_is_reconciled_by_its_idempotency_key(sandbox, charge, settings):
    payment = charge(APPROVED, gateway="northpay")
    settings.PAYMENT_READ_TIMEOUT = 0.4
    sandbox.set_knobs("northpay", timeout_rate=1.0, timeout_seconds=1.5, operations=["refund"])
    made = refund(payment, Decimal("2.00"))
    assert made.amount == Decimal("2.00")
    assert made.gateway_ref
    assert sandbox.charges("northpay")[0]["refundedValue"] == "2.00"


def test_a_payment_whose_gateway_is_no_longer_configured_cannot_be_refunded_now(sandbox, charge, settings):
    payment = charge(APPROVED, gateway="northpay")
    settings.PAYMENT_GATEWAYS = {"cardinal": settings.PAYMENT_GATEWAYS["cardinal"]}
    with pytest.raises(ApplicationError) as excinfo:
        refund(payment)
    assert (excinfo.value.code, excinfo.value.status_code) == ("payment_gateway_unavailable", 503)
