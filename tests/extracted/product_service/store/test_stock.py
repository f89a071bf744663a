"""Stock in the store (owned by the Product service from cutover on): adjustments, all-or-nothing
reservations idempotent per reference, releases that give stock back once, never a negative level."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connections, transaction

from contracts.errors import ApplicationError
from contracts.product import doc_digest
from extracted.product_service.models import CatalogProduct
from extracted.product_service.store.orm import OrmCatalogStore
from extracted.product_service.store.port import (
    InsufficientStock,
    OutOfStock,
    ProductNotFound,
    Reservation,
    ReservationConflict,
    ShortLine,
    StockLine,
)

from .adapters import DATABASES, ORM_POSTGRESQL, ORM_SQLITE, POSTGRESQL_AVAILABLE, make_store
from .dataset import CATEGORIES, product_doc

pytestmark = pytest.mark.django_db(databases=DATABASES)


def level(store, product_id: int) -> int:
    return store.get_product(product_id, include_inactive=True)["stock"]


def test_an_adjustment_changes_the_level_and_returns_it(seeded_store):
    assert seeded_store.stock_adjust(1, 10) == 15
    assert seeded_store.stock_adjust(1, -15) == 0
    assert level(seeded_store, 1) == 0


def test_an_adjustment_below_zero_is_refused_and_changes_nothing(seeded_store):
    with pytest.raises(InsufficientStock) as refused:
        seeded_store.stock_adjust(1, -6)

    assert refused.value.code == "insufficient_stock"
    assert refused.value.extra == {"product_id": 1, "stock": 5, "delta": -6}
    assert level(seeded_store, 1) == 5


@pytest.mark.parametrize("delta", [0, True, 1.5])
def test_an_adjustment_needs_a_non_zero_integer(seeded_store, delta):
    with pytest.raises(ApplicationError) as refused:
        seeded_store.stock_adjust(1, delta)
    assert refused.value.code == "invalid_delta"


def test_adjusting_an_unknown_product_is_not_found(seeded_store):
    with pytest.raises(ProductNotFound):
        seeded_store.stock_adjust(999, 1)


def test_an_adjustment_with_a_reference_applies_once(seeded_store):
    assert seeded_store.stock_adjust(1, 3, reference="evt-1") == 8
    assert seeded_store.stock_adjust(1, 3, reference="evt-1") == 8
    assert seeded_store.stock_adjust(1, 3, reference="evt-2") == 11


def test_a_refused_adjustment_leaves_its_reference_free(seeded_store):
    with pytest.raises(InsufficientStock):
        seeded_store.stock_adjust(1, -10, reference="evt-1")

    seeded_store.stock_adjust(1, 10, reference="evt-0")
    assert seeded_store.stock_adjust(1, -10, reference="evt-1") == 5


def test_a_stock_change_keeps_the_document_and_its_digest_in_step(seeded_store):
    seeded_store.stock_adjust(1, 2)
    seeded_store.stock_reserve("order-1", [StockLine(3, 1)])

    for product_id, stock in ((1, 7), (3, 1)):
        doc = seeded_store.get_product(product_id)
        assert doc["stock"] == stock
        assert seeded_store.digests(product_id, product_id + 1) == {product_id: doc_digest(doc)}


def test_a_reservation_takes_every_line(seeded_store):
    reservation = seeded_store.stock_reserve("order-1", [StockLine(1, 2), StockLine(3, 2), StockLine(1, 1)])

    assert reservation == Reservation("order-1", (StockLine(1, 3), StockLine(3, 2)), "reserved", created=True)
    assert (level(seeded_store, 1), level(seeded_store, 3)) == (2, 0)


def test_replaying_a_reservation_returns_it_without_taking_stock_again(seeded_store):
    seeded_store.stock_reserve("order-1", [StockLine(1, 2)])

    replay = seeded_store.stock_reserve("order-1", [StockLine(1, 2)])

    assert replay == Reservation("order-1", (StockLine(1, 2),), "reserved", created=False)
    assert level(seeded_store, 1) == 3


def test_a_reference_reused_for_other_lines_is_a_conflict(seeded_store):
    seeded_store.stock_reserve("order-1", [StockLine(1, 2)])

    with pytest.raises(ReservationConflict) as refused:
        seeded_store.stock_reserve("order-1", [StockLine(1, 3)])
    assert refused.value.code == "reservation_conflict"
    assert level(seeded_store, 1) == 3


def test_a_short_reservation_takes_nothing_and_lists_every_short_line(seeded_store):
    lines = [StockLine(1, 2), StockLine(3, 5), StockLine(7, 1), StockLine(999, 1), StockLine(4, 7)]

    with pytest.raises(OutOfStock) as refused:
        seeded_store.stock_reserve("order-1", lines)

    # 3 has 2 left; 7 is inactive and 999 unknown (nothing available); 1 and 4 could be served.
    assert refused.value.lines == (ShortLine(3, 5, 2), ShortLine(7, 1, 0), ShortLine(999, 1, 0))
    assert refused.value.code == "out_of_stock"
    assert refused.value.extra["lines"][0] == {"product_id": 3, "requested": 5, "available": 2}
    assert [level(seeded_store, i) for i in (1, 3, 4, 7)] == [5, 2, 7, 3]


def test_a_refused_reservation_can_be_retried_under_the_same_reference(seeded_store):
    with pytest.raises(OutOfStock):
        seeded_store.stock_reserve("order-1", [StockLine(3, 5)])
    seeded_store.stock_adjust(3, 3)

    assert seeded_store.stock_reserve("order-1", [StockLine(3, 5)]).created
    assert level(seeded_store, 3) == 0


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_a_reservation_line_needs_a_positive_quantity(seeded_store, quantity):
    with pytest.raises(ApplicationError) as refused:
        seeded_store.stock_reserve("order-1", [StockLine(1, quantity)])
    assert refused.value.code == "invalid_quantity"


def test_a_release_gives_the_stock_back_once(seeded_store):
    seeded_store.stock_reserve("order-1", [StockLine(1, 2), StockLine(3, 1)])

    first = seeded_store.stock_release("order-1")
    again = seeded_store.stock_release("order-1")

    assert first == Reservation("order-1", (StockLine(1, 2), StockLine(3, 1)), "released", created=True)
    assert again == Reservation("order-1", (StockLine(1, 2), StockLine(3, 1)), "released", created=False)
    assert (level(seeded_store, 1), level(seeded_store, 3)) == (5, 2)


@pytest.mark.parametrize("reference", ["", "r" * 101, None])
def test_a_stock_reference_is_a_short_non_empty_string(seeded_store, reference):
    for operation in (
        lambda: seeded_store.stock_reserve(reference, [StockLine(1, 1)]),
        lambda: seeded_store.stock_release(reference),
    ):
        with pytest.raises(ApplicationError) as refused:
            operation()
        assert refused.value.code == "invalid_reference"
    assert level(seeded_store, 1) == 5


def test_releasing_an_unknown_reference_does_nothing(seeded_store):
    assert seeded_store.stock_release("never-reserved") is None


def test_a_fencing_release_of_an_unknown_reference_makes_a_later_reserve_take_nothing(seeded_store):
    """The monolith's checkout gave up on a slow reserve and released it first: the reserve lands later."""
    assert seeded_store.stock_release("order-late", fence=True) is None
    with pytest.raises(ApplicationError) as refused:
        seeded_store.stock_reserve("order-late", [StockLine(1, 2)])
    assert refused.value.code == "reservation_conflict"
    assert level(seeded_store, 1) == 5
    again = seeded_store.stock_release("order-late", fence=True)
    assert again is not None
    assert (again.status, again.lines) == ("released", ())


def test_a_fencing_release_of_a_reservation_gives_its_stock_back(seeded_store):
    seeded_store.stock_reserve("order-2", [StockLine(1, 2)])
    released = seeded_store.stock_release("order-2", fence=True)
    assert released == Reservation("order-2", (StockLine(1, 2),), "released", created=True)
    assert level(seeded_store, 1) == 5


def test_a_released_reference_stays_released(seeded_store):
    seeded_store.stock_reserve("order-1", [StockLine(1, 2)])
    seeded_store.stock_release("order-1")

    assert seeded_store.stock_reserve("order-1", [StockLine(1, 2)]).status == "released"
    assert level(seeded_store, 1) == 5


def test_an_adjustment_reference_is_not_a_reservation(seeded_store):
    seeded_store.stock_adjust(1, 1, reference="shared")

    assert seeded_store.stock_release("shared") is None
    with pytest.raises(ReservationConflict):
        seeded_store.stock_reserve("shared", [StockLine(1, 1)])


@pytest.mark.skipif(
    not POSTGRESQL_AVAILABLE, reason="PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)"
)
@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_concurrent_reservations_on_postgresql_never_oversell():
    """Twelve threads race for ten units of one product, and for a second product each: exactly ten
    reservations win, the rest are OutOfStock with nothing taken, and the level ends at zero."""
    store = OrmCatalogStore(using="default")
    store.upsert_categories(CATEGORIES)
    store.upsert_products([product_doc(1, stock=10), product_doc(2, stock=100)])
    start = threading.Barrier(12)
    outcomes: list[str] = []

    def reserve(index: int) -> None:
        try:
            start.wait()
            store.stock_reserve(f"order-{index}", [StockLine(2, 1), StockLine(1, 1)])
            outcomes.append("reserved")
        except OutOfStock:
            outcomes.append("out_of_stock")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=reserve, args=(index,)) for index in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["out_of_stock"] * 2 + ["reserved"] * 10
    assert (level(store, 1), level(store, 2)) == (0, 90)


@pytest.mark.skipif(
    not POSTGRESQL_AVAILABLE, reason="PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)"
)
@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_concurrent_replays_and_releases_on_postgresql_apply_once():
    """The same reservation sent by eight threads takes stock once; eight releases give it back once."""
    store = OrmCatalogStore(using="default")
    store.upsert_categories(CATEGORIES)
    store.upsert_products([product_doc(1, stock=10)])

    def race(action) -> list:
        start = threading.Barrier(8)
        results: list = []

        def run() -> None:
            try:
                start.wait()
                results.append(action())
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    reserved = race(lambda: store.stock_reserve("order-1", [StockLine(1, 4)]))
    assert sum(result.created for result in reserved) == 1
    assert level(store, 1) == 6

    released = race(lambda: store.stock_release("order-1"))
    assert sum(result.created for result in released) == 1
    assert level(store, 1) == 10


@pytest.mark.skipif(
    not POSTGRESQL_AVAILABLE, reason="PRODUCT_DATABASE_URL is not PostgreSQL (make test sets it)"
)
@pytest.mark.django_db(transaction=True, databases=DATABASES)
def test_imports_and_reservations_run_together_on_postgresql_without_deadlock():
    """Imports and reservations touch the same rows at once. Imports arriving in any id order lock
    rows in ascending order, like reservations, so neither waits on the other in a cycle."""
    store = OrmCatalogStore(using="default")
    store.upsert_categories(CATEGORIES)
    ids = list(range(100, 160))
    store.upsert_products([product_doc(i, stock=50) for i in ids])
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def run(action) -> None:
        try:
            start.wait()
            action()
        except BaseException as exc:  # a deadlock shows up here as OperationalError
            failures.append(exc)
        finally:
            connections.close_all()

    def import_versions(first: int, order: list[int], preserve_stock: bool) -> None:
        for version in range(first, first + 10, 2):
            store.upsert_products(
                [product_doc(i, stock=50, version=version) for i in order], preserve_stock=preserve_stock
            )

    def reserve(prefix: str) -> None:
        for round_ in range(5):
            store.stock_reserve(f"{prefix}-{round_}", [StockLine(i, 1) for i in ids])

    actions = [
        lambda: import_versions(2, list(reversed(ids)), preserve_stock=False),
        lambda: import_versions(3, ids[30:] + ids[:30], preserve_stock=True),
        lambda: reserve("a"),
        lambda: reserve("b"),
    ]
    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert {store.get_product(i)["version"] for i in ids} == {11}
    assert all(40 <= level(store, i) <= 50 for i in ids)


@pytest.mark.parametrize("adapter", [ORM_POSTGRESQL, ORM_SQLITE])
def test_the_orm_tables_refuse_a_negative_level_whoever_writes_it(adapter):
    store = make_store(adapter)
    store.upsert_categories(CATEGORIES)
    store.upsert_products([product_doc(1)])

    with pytest.raises(IntegrityError), transaction.atomic(using=store.using):
        CatalogProduct.objects.using(store.using).filter(id=1).update(stock=-1)
