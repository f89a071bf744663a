"""payment_charge against the real sandbox gateways."""

import pytest

from legacy_monolith.payments.gateways import CardDetails
from legacy_monolith.payments.models import Payment
from legacy_monolith.payments.services import payment_charge
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

APPROVED = "4242424242424242"


def card(number: str = APPROVED) -> CardDetails:
    return CardDetails(number=number, exp_month=12, exp_year=2030, cvc="123", holder="Ada Lovelace")


@pytest.mark.parametrize("gateway", ["cardinal", "northpay"])
def test_an_approved_card_is_captured_and_only_token_and_last4_are_kept(sandbox, gateway):
    order = OrderFactory()
    payment = payment_charge(
        order=order, card=card(), gateway=gateway, idempotency_key="k1", client_ip="10.0.0.1"
    )
    assert payment.status == Payment.Status.CAPTURED
    assert payment.amount == order.total
    assert payment.card_last4 == "4242"
    assert payment.card_country == "FR"
    assert payment.card_brand == "visa"
    assert payment.card_token
    assert payment.gateway_ref
    assert APPROVED not in str(Payment.objects.filter(pk=payment.pk).values().get())
