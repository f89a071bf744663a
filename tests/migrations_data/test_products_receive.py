"""`sync products receive`: the Product service's own catalog writes applied to the monolith's tables
(through the consumer's handlers, as the broker hands them over): once, in order, never backwards, and
each apply versioned and sent back through the monolith's outbox like any catalog write."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts import product as contract
from contracts.events import Envelope
from legacy_monolith.catalog.models import Category, Product, StockMovement
from migrations_data.models import OutboxEvent
from migrations_data.products.receive import NotYetReceived, ProductsReceiver
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

BLOCK = 10**12
CATEGORY = {"id": BLOCK + 1, "name": "Phones", "slug": "phones", "parent_id": None, "version": 0}


def product(**overrides) -> dict:
    doc = {
        "id": BLOCK + 1,
        "sku": "SVC-1",
        "name": "Service phone",
        "slug": "service-phone",
        "description": "",
        "category": {"id": CATEGORY["id"], "slug": "phones", "name": "Phones"},
        "price": "199.00",
        "currency": "EUR",
        "attributes": {"color": "black"},
        "image_urls": [],
        "stock": 5,
        "weight_grams": 180,
        "is_active": True,
        "created_at": "2026-12-07T08:00:00.123456Z",
        "updated_at": "2026-12-07T08:00:00.123456Z",
        "version": 0,
    }
    return {**doc, **overrides}


def movement(**overrides) -> dict:
    doc = {
        "id": BLOCK + 1,
        "product_id": BLOCK + 1,
        "delta": 5,
        "balance_after": 5,
        "reason": "initial",
        "reference": "",
        "actor_id": None,
        "created_at": "2026-12-07T08:00:00.123456Z",
    }
    return {**doc, **overrides}


def deliver(kind: str, data: dict) -> None:
    """One event through the receiver's handler, as the consumer runs it."""
    ProductsReceiver.handlers[kind](Envelope.new(kind, data, source="product_service"))


def test_a_product_created_at_the_service_arrives_whole_with_its_history():
    deliver(contract.CATEGORY_SAVED, CATEGORY)
    deliver(contract.PRODUCT_SAVED, product())
    deliver(contract.STOCK_MOVED, movement())
    deliver(contract.STOCK_MOVED, movement(id=BLOCK + 2, delta=3, balance_after=8, reason="restock"))

    row = Product.objects.get(pk=BLOCK + 1)
    assert (row.sku, row.category_id, row.price, row.stock, row.attributes) == (
        "SVC-1",
        BLOCK + 1,
        Decimal("199.00"),
        8,
        {"color": "black"},
    )
    assert row.created_at.isoformat() == "2026-12-07T08:00:00.123456+00:00"
    history = list(StockMovement.objects.filter(product=row).values_list("id", "delta", "balance_after"))
    assert history == [(BLOCK + 2, 3, 8), (BLOCK + 1, 5, 5)]
    # the monolith's triggers versioned the applies: the relay sends them back to the service
    assert OutboxEvent.objects.filter(entity="product", entity_id=BLOCK + 1).exists()


def test_redelivered_and_late_events_change_nothing():
    deliver(contract.CATEGORY_SAVED, CATEGORY)
    deliver(contract.PRODUCT_SAVED, product())
    deliver(contract.STOCK_MOVED, movement())
    deliver(contract.PRODUCT_SAVED, product(name="Second edit", version=7))
    for _ in range(2):
        deliver(contract.CATEGORY_SAVED, CATEGORY)
        deliver(contract.STOCK_MOVED, movement())
        deliver(contract.PRODUCT_SAVED, product(name="First edit", version=3))  # late
    row = Product.objects.get(pk=BLOCK + 1)
    assert (row.name, row.origin_version, row.stock) == ("Second edit", 7, 5)
    assert StockMovement.objects.filter(product=row).count() == 1
    assert Category.objects.filter(slug="phones").count() == 1


def test_an_edit_of_a_monolith_product_applies_its_fields_never_its_stock():
    mine = ProductFactory(stock=4)
    doc = product(
        id=mine.pk,
        sku=mine.sku,
        category={"id": mine.category_id, "slug": mine.category.slug, "name": mine.category.name},
        stock=99,
        version=mine.sync_version + 1,
        is_active=False,
    )
    deliver(contract.PRODUCT_SAVED, doc)
    mine.refresh_from_db()
    assert (mine.name, mine.is_active, mine.stock) == ("Service phone", False, 4)


def test_a_movement_never_takes_the_level_below_zero_here():
    mine = ProductFactory(stock=2)
    deliver(
        contract.STOCK_MOVED, movement(product_id=mine.pk, delta=-5, balance_after=0, reason="adjustment")
    )
    mine.refresh_from_db()
    assert mine.stock == 0
    recorded = StockMovement.objects.get(pk=BLOCK + 1)
    assert (recorded.delta, recorded.balance_after) == (-2, 0)


def test_what_refers_to_a_row_not_here_yet_is_retried():
    with pytest.raises(NotYetReceived):
        deliver(contract.PRODUCT_SAVED, product())
    with pytest.raises(NotYetReceived):
        deliver(contract.STOCK_MOVED, movement())
    assert not Product.objects.filter(pk=BLOCK + 1).exists()
    assert not StockMovement.objects.exists()


def test_a_document_off_the_contract_is_refused():
    with pytest.raises(contract.ContractError):
        deliver(contract.PRODUCT_SAVED, {**product(), "stock": -1})


def test_the_monoliths_own_movement_coming_back_from_its_relay_is_left_alone():
    """`sync products follow` publishes the monolith's movements for the service's history; this consumer
    binds the same type: a movement below the service's id block is the monolith's own, even once its product
    was deleted here (no retry, no dead letter)."""
    deliver(contract.STOCK_MOVED, movement(id=41, product_id=999_999, delta=-1, balance_after=0))
    assert not StockMovement.objects.filter(pk=41).exists()
