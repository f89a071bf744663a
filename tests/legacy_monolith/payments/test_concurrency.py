"""Concurrent replays of one charge: separate threads, separate database connections, real row locks."""

import threading

import pytest
from django.db import connection

from legacy_monolith.payments.models import Payment
from legacy_monolith.payments.services import payment_charge
from tests.factories import OrderFactory

from .conftest import APPROVED, card

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_simultaneous_charges_with_one_key_make_one_payment_and_one_gateway_charge(sandbox):
    sandbox.set_knobs("cardinal", latency_ms=300)  # keep the first call inside its transaction a while
    order = OrderFactory(status="pending_payment")
    results, errors = [], []

    def pay():
        try:
            payment = payment_charge(
                order=order,
                card=card(APPROVED),
                gateway="cardinal",
                idempotency_key="double-click",
                client_ip=None,
            )
            results.append((payment.pk, payment.status))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 2
    assert results[0] == results[1]
    assert results[0][1] == Payment.Status.CAPTURED
    assert Payment.objects.filter(order=order).count() == 1
    assert len(sandbox.charges("cardinal")) == 1
