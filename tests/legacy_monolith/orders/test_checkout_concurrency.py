"""Checkouts racing each other on a real PostgreSQL (transactional_db, one connection per thread)."""

import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from legacy_monolith.catalog.models import StockMovement
from legacy_monolith.orders.models import Coupon, Order
from legacy_monolith.payments.models import Payment
from tests.factories import CouponFactory, ShippingRuleFactory, UserFactory

from .checkout_helpers import APPROVED, body, cart_of, checkout, fill_cart, reasons_for, stock_of

pytestmark = pytest.mark.django_db(transaction=True)

R = StockMovement.Reason


@pytest.fixture(autouse=True)
def _rates():
    """transactional_db flushes tables between tests, the seeded rate table included: bring our own."""
    return ShippingRuleFactory(country="FR", price=Decimal("4.90"))


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def race(*calls):
    """Run the calls at the same moment in threads; return their results in call order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # surfaced by the assertions below
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_concurrent_checkouts_with_the_same_key_make_exactly_one_order_and_one_charge(sandbox):
    user = UserFactory()
    (product,) = fill_cart(user, ("25.00", 2, 5))
    sandbox.set_knobs("cardinal", latency_ms=200)
    client = client_of(user)

    first, second = race(
        lambda: checkout(client, key="same-key-under-race"),
        lambda: checkout(client, key="same-key-under-race"),
    )

    statuses = sorted([first.status_code, second.status_code])
    assert statuses in ([200, 201], [201, 409]), (first.json(), second.json())
    if 409 in statuses:
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] == "checkout_in_progress"
    assert Order.objects.filter(user=user).count() == 1
    assert Payment.objects.filter(user=user).count() == 1
    assert len(sandbox.charges("cardinal")) == 1
    assert stock_of(product) == 3
    # Once the winner is done, the key replays its order.
    replay = checkout(client, key="same-key-under-race")
    assert (replay.status_code, replay.json()["status"]) == (200, "paid")


def test_two_customers_racing_for_the_last_unit_one_pays_the_other_gets_out_of_stock(sandbox):
    alice, bob = UserFactory(), UserFactory()
    (product,) = fill_cart(alice, ("99.00", 1, 1))
    from .factories import CartItemFactory

    CartItemFactory(cart__user=bob, product=product, quantity=1)

    results = race(
        lambda: checkout(client_of(alice), body(card=APPROVED)),
        lambda: checkout(client_of(bob), body(card="4111111111111111")),
    )

    assert sorted(r.status_code for r in results) == [201, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "out_of_stock"
    assert stock_of(product) == 0
    assert Order.objects.filter(status=Order.Status.PAID).count() == 1
    assert Order.objects.count() == 1


def test_two_customers_racing_for_the_last_use_of_a_coupon_only_one_gets_it(sandbox):
    alice, bob = UserFactory(), UserFactory()
    (alice_product,) = fill_cart(alice, ("50.00", 1))
    (bob_product,) = fill_cart(bob, ("50.00", 1))
    coupon = CouponFactory(code="LASTONE", kind="fixed", value=Decimal("5"), usage_limit=1)

    results = race(
        lambda: checkout(client_of(alice), body(coupon_code="LASTONE")),
        lambda: checkout(client_of(bob), body(card="4111111111111111", coupon_code="LASTONE")),
    )

    assert sorted(r.status_code for r in results) == [201, 400]
    loser_index = next(i for i, r in enumerate(results) if r.status_code == 400)
    assert results[loser_index].json()["code"] == "coupon_exhausted"
    assert Coupon.objects.get(pk=coupon.pk).times_used == 1
    loser, loser_product = [(alice, alice_product), (bob, bob_product)][loser_index]
    assert stock_of(loser_product) == loser_product.stock
    assert cart_of(loser) == {loser_product.id: 1}


def test_an_order_cancelled_while_its_charge_runs_is_refunded_and_its_stock_released_once(sandbox):
    user = UserFactory()
    (product,) = fill_cart(user, ("30.00", 2, 5))
    sandbox.set_knobs("cardinal", latency_ms=1500, operations=["authorize"])
    client = client_of(user)
    outcome: dict = {}

    def run_checkout():
        try:
            outcome["response"] = checkout(client, key=uuid.uuid4().hex)
        finally:
            connection.close()

    thread = threading.Thread(target=run_checkout)
    thread.start()
    deadline = time.monotonic() + 10
    while not Order.objects.filter(user=user, status=Order.Status.PENDING_PAYMENT).exists():
        assert time.monotonic() < deadline, "the checkout never created its order"
        time.sleep(0.02)
    number = Order.objects.get(user=user).number
    cancelled = client.post(f"/api/v1/orders/{number}/cancel", format="json")
    thread.join(timeout=30)

    assert cancelled.status_code == 200, cancelled.json()
    response = outcome["response"]
    assert (response.status_code, response.json()["code"]) == (409, "order_cancelled")
    assert response.json()["extra"] == {"order_number": number, "refunded": True}
    order = Order.objects.get(number=number)
    assert order.status == Order.Status.CANCELLED
    assert Payment.objects.get(order=order).status == Payment.Status.REFUNDED
    assert stock_of(product) == 5
    assert reasons_for(product, number) == [R.RESERVATION, R.RELEASE]
