"""Payments recorded without a gateway call, for API tests that only read."""

import factory

from legacy_monolith.payments.models import Payment
from tests.factories import OrderFactory


class PaymentFactory(factory.django.DjangoModelFactory):
    """A captured card payment of its order's total, as payment_charge leaves it."""

    class Meta:
        model = Payment

    order = factory.SubFactory(OrderFactory)
    user = factory.LazyAttribute(lambda p: p.order.user)
    gateway = "cardinal"
    gateway_ref = factory.Sequence(lambda n: f"ch_factory{n:010d}")
    idempotency_key = factory.Sequence(lambda n: f"factory-payment-{n}")
    amount = factory.LazyAttribute(lambda p: p.order.total)
    currency = "EUR"
    status = Payment.Status.CAPTURED
    card_token = factory.Sequence(lambda n: f"tok_factory{n}")
    card_brand = "visa"
    card_bin = "424242"
    card_last4 = "4242"
    card_country = "FR"
