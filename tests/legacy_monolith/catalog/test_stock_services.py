"""The stock functions other apps call in-process: reserve, release, adjust."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError

from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.catalog.services import stock_adjust, stock_release, stock_reserve
from legacy_monolith.core.errors import ApplicationError
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


def movements(product):
    return list(StockMovement.objects.filter(product=product).order_by("id"))


def assert_history_adds_up(product):
    """Every movement's balance_after is the running sum of deltas, ending at the current stock."""
    product.refresh_from_db()
    running = 0
    for movement in movements(product):
        running += movement.delta
        assert movement.balance_after == running
    assert running == product.stock


def test_reserve_decrements_every_line_and_writes_one_reservation_per_line():
    first, second = ProductFactory(stock=5), ProductFactory(stock=3)
    with transaction.atomic():
        stock_reserve(lines=[(first.id, 2), (second.id, 3)], reference="TS-00000001")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stock, second.stock) == (3, 0)
    last = movements(first)[-1]
    assert (last.delta, last.balance_after, last.reason, last.reference) == (
        -2,
        3,
        StockMovement.Reason.RESERVATION,
        "TS-00000001",
    )
    assert movements(second)[-1].balance_after == 0
    assert_history_adds_up(first)
    assert_history_adds_up(second)


def test_reserve_merges_repeated_lines_for_the_same_product():
    product = ProductFactory(stock=5)
    with transaction.atomic():
        stock_reserve(lines=[(product.id, 1), (product.id, 2)], reference="TS-1")
    product.refresh_from_db()
    assert product.stock == 2
    assert [m.delta for m in movements(product)] == [5, -3]


def test_reserve_checks_every_line_before_touching_any_stock():
    plenty, short = ProductFactory(stock=10), ProductFactory(stock=1)
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        stock_reserve(lines=[(plenty.id, 2), (short.id, 2)], reference="TS-2")
    assert caught.value.code == "out_of_stock"
    assert caught.value.status_code == 409
    assert caught.value.extra == {"product_id": short.id, "requested": 2, "available": 1}
    plenty.refresh_from_db()
    assert plenty.stock == 10
    assert len(movements(plenty)) == 1


@pytest.mark.parametrize("state", ["inactive", "missing"])
def test_reserve_refuses_a_product_that_is_not_for_sale(state):
    product = ProductFactory(stock=5, is_active=state != "inactive")
    product_id = product.id if state == "inactive" else product.id + 10_000
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        stock_reserve(lines=[(product_id, 1)], reference="TS-3")
    assert caught.value.code == "product_unavailable"
    assert caught.value.status_code == 409
    assert caught.value.extra == {"product_id": product_id}


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True])
def test_reserve_refuses_a_quantity_that_is_not_a_positive_integer(quantity):
    product = ProductFactory(stock=5)
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        stock_reserve(lines=[(product.id, quantity)], reference="TS-4")
    assert caught.value.code == "invalid_quantity"
    product.refresh_from_db()
    assert product.stock == 5


def test_reserve_records_the_actor():
    product, user = ProductFactory(stock=5), UserFactory()
    with transaction.atomic():
        stock_reserve(lines=[(product.id, 1)], reference="TS-5", actor=user)
    assert movements(product)[-1].actor_id == user.id


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("call", [stock_reserve, stock_release])
def test_reserve_and_release_refuse_to_run_outside_a_transaction(call):
    product = ProductFactory(stock=5)
    with pytest.raises(TransactionManagementError):
        call(lines=[(product.id, 1)], reference="TS-6")
    product.refresh_from_db()
    assert product.stock == 5


def test_release_gives_stock_back_with_the_default_release_reason():
    product = ProductFactory(stock=5)
    with transaction.atomic():
        stock_reserve(lines=[(product.id, 4)], reference="TS-7")
    with transaction.atomic():
        stock_release(lines=[(product.id, 4)], reference="TS-7")
    product.refresh_from_db()
    assert product.stock == 5
    last = movements(product)[-1]
    assert (last.delta, last.balance_after, last.reason) == (4, 5, StockMovement.Reason.RELEASE)
    assert_history_adds_up(product)


def test_release_accepts_another_reason_and_an_inactive_product():
    product = ProductFactory(stock=0, is_active=False)
    with transaction.atomic():
        stock_release(lines=[(product.id, 2)], reference="TS-8", reason=StockMovement.Reason.RETURN)
    product.refresh_from_db()
    assert product.stock == 2
    assert movements(product)[-1].reason == StockMovement.Reason.RETURN


def test_release_of_an_unknown_product_releases_nothing():
    product = ProductFactory(stock=1)
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        stock_release(lines=[(product.id, 1), (product.id + 10_000, 1)], reference="TS-9")
    assert caught.value.code == "product_not_found"
    product.refresh_from_db()
    assert product.stock == 1


def test_release_refuses_an_unknown_reason():
    product = ProductFactory(stock=1)
    with pytest.raises(ApplicationError) as caught, transaction.atomic():
        stock_release(lines=[(product.id, 1)], reference="TS-10", reason="gift")
    assert caught.value.code == "invalid_stock_reason"


@pytest.mark.parametrize(
    ("delta", "reason", "expected_stock"),
    [
        (7, StockMovement.Reason.RESTOCK, 17),
        (-10, StockMovement.Reason.ADJUSTMENT, 0),
        (1, StockMovement.Reason.RETURN, 11),
    ],
)
def test_adjust_changes_stock_and_records_balance_after(delta, reason, expected_stock):
    product, staff = ProductFactory(stock=10), UserFactory(role="staff")
    updated = stock_adjust(product=product, delta=delta, reason=reason, reference="PO-1", actor=staff)
    assert updated.stock == expected_stock
    assert product.stock == expected_stock
    last = movements(product)[-1]
    assert (last.delta, last.balance_after, last.reason, last.reference, last.actor_id) == (
        delta,
        expected_stock,
        reason,
        "PO-1",
        staff.id,
    )
    assert_history_adds_up(product)


def test_adjust_never_takes_stock_below_zero():
    product = ProductFactory(stock=3)
    with pytest.raises(ApplicationError) as caught:
        stock_adjust(product=product, delta=-4, reason=StockMovement.Reason.ADJUSTMENT)
    assert caught.value.code == "insufficient_stock"
    assert caught.value.status_code == 409
    assert caught.value.extra == {"product_id": product.id, "stock": 3, "delta": -4}
    product.refresh_from_db()
    assert product.stock == 3
    assert len(movements(product)) == 1


def test_adjust_reads_the_current_stock_not_the_stale_instance():
    product = ProductFactory(stock=3)
    stale = Product.objects.get(pk=product.pk)
    stock_adjust(product=product, delta=-3, reason=StockMovement.Reason.ADJUSTMENT)
    with pytest.raises(ApplicationError) as caught:
        stock_adjust(product=stale, delta=-1, reason=StockMovement.Reason.ADJUSTMENT)
    assert caught.value.code == "insufficient_stock"


@pytest.mark.parametrize(
    ("delta", "reason", "code"),
    [
        (0, StockMovement.Reason.RESTOCK, "invalid_delta"),
        (1.5, StockMovement.Reason.RESTOCK, "invalid_delta"),
        (True, StockMovement.Reason.RESTOCK, "invalid_delta"),
        (1, "gift", "invalid_stock_reason"),
    ],
)
def test_adjust_refuses_bad_input(delta, reason, code):
    product = ProductFactory(stock=3)
    with pytest.raises(ApplicationError) as caught:
        stock_adjust(product=product, delta=delta, reason=reason)
    assert caught.value.code == code


def test_history_adds_up_after_a_mix_of_changes():
    product = ProductFactory(stock=4)
    stock_adjust(product=product, delta=6, reason=StockMovement.Reason.RESTOCK)
    with transaction.atomic():
        stock_reserve(lines=[(product.id, 9)], reference="TS-11")
    with transaction.atomic():
        stock_release(lines=[(product.id, 2)], reference="TS-11")
    stock_adjust(product=product, delta=-3, reason=StockMovement.Reason.ADJUSTMENT)
    product.refresh_from_db()
    assert product.stock == 0
    assert [m.balance_after for m in movements(product)] == [4, 10, 1, 3, 0]
    assert_history_adds_up(product)


def _run_in_threads(*targets):
    """Run each target in its own thread (its own DB connection), all released at once."""
    barrier = threading.Barrier(len(targets))
    outcomes: list = [None] * len(targets)

    def runner(index, target):
        try:
            barrier.wait(timeout=5)
            outcomes[index] = target()
        except Exception as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_buyers_racing_for_the_last_unit_exactly_one_wins():
    product = ProductFactory(stock=1)

    def reserve():
        with transaction.atomic():
            stock_reserve(lines=[(product.id, 1)], reference=threading.current_thread().name)
            time.sleep(0.3)  # hold the lock while the other buyer tries
        return "reserved"

    outcomes = _run_in_threads(reserve, reserve)
    winners = [o for o in outcomes if o == "reserved"]
    losers = [o for o in outcomes if isinstance(o, ApplicationError)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert losers[0].code == "out_of_stock"
    assert losers[0].extra["available"] == 0
    product.refresh_from_db()
    assert product.stock == 0
    assert [m.reason for m in movements(product)] == ["initial", "reservation"]
    assert_history_adds_up(product)


@pytest.mark.django_db(transaction=True)
def test_reservations_listing_products_in_opposite_orders_do_not_deadlock():
    first, second = ProductFactory(stock=10), ProductFactory(stock=10)

    def reserve(lines):
        def run():
            with transaction.atomic():
                stock_reserve(lines=lines, reference="race")
                time.sleep(0.2)
            return "reserved"

        return run

    outcomes = _run_in_threads(
        reserve([(first.id, 1), (second.id, 1)]), reserve([(second.id, 1), (first.id, 1)])
    )
    assert outcomes == ["reserved", "reserved"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stock, second.stock) == (8, 8)
    assert_history_adds_up(first)
    assert_history_adds_up(second)


@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_never_lose_an_update():
    product = ProductFactory(stock=0)

    def restock():
        return stock_adjust(product=Product.objects.get(pk=product.pk), delta=5, reason="restock").stock

    outcomes = _run_in_threads(*[restock] * 4)
    assert sorted(outcomes) == [5, 10, 15, 20]
    product.refresh_from_db()
    assert product.stock == 20
    assert_history_adds_up(product)
