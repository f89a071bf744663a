"""The catalog and stock consumers on a real RabbitMQ: the version rule through events, idempotent replays,
dead letters, the stock-ownership rule and reservations by order events."""

from __future__ import annotations

import orjson
import pytest
from kombu import Connection, Queue

from chassis.broker import Publisher
from chassis.consumers import ConsumerWorker
from contracts.events import Envelope
from extracted.product_service import consumers

from .documents import CATEGORIES, product_doc

pytestmark = pytest.mark.django_db(transaction=True)
MAX_ATTEMPTS = 2


def consumer_named(rabbit, cls, suffix: str):
    """The consumer class under a name unique to this test; its queues are deleted after it."""
    name = f"{rabbit.prefix}.{suffix}"
    rabbit.queues += [name, f"{name}.dlq", *(f"{name}.retry.{n}" for n in range(1, MAX_ATTEMPTS))]
    return type(cls.__name__, (cls,), {"name": name})


def run(rabbit, cls, *envelopes: Envelope):
    with Connection(rabbit.url) as conn:
        worker = ConsumerWorker(
            cls(), conn, exchange=rabbit.exchange, max_attempts=MAX_ATTEMPTS, retry_base_ms=20
        )
        worker.declare()
        with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
            for envelope in envelopes:
                publisher.publish(envelope)
        return worker.run(max_messages=None, once=True, idle_timeout=1.0)


def event(type_: str, data: dict) -> Envelope:
    return Envelope.new(type_, data, source="monolith")


@pytest.fixture
def catalog(rabbit, store, local_cache):
    store.upsert_categories(CATEGORIES)
    return consumer_named(rabbit, consumers.CatalogConsumer, "catalog")


@pytest.fixture
def stock(rabbit, store, local_cache, settings):
    settings.PRODUCT_STOCK_OWNER = "service"
    store.upsert_categories(CATEGORIES)
    store.upsert_products([product_doc(4, stock=10), product_doc(5, stock=1)])
    return consumer_named(rabbit, consumers.StockConsumer, "stock")


def test_upserts_apply_newer_versions_once_and_skip_older_ones(rabbit, catalog, store, api_client):
    api_client.get("/api/v1/catalog/products/7")  # a cached 404 must not hide the product
    newer = event("catalog.product.upserted", product_doc(7, name="Seven v3", version=3))
    older = event("catalog.product.upserted", product_doc(7, name="Seven v2", version=2))
    stats = run(rabbit, catalog, newer, newer, older)
    assert (stats.processed, stats.duplicate) == (2, 1)
    assert store.get_product(7)["name"] == "Seven v3"
    assert api_client.get("/api/v1/catalog/products/7").json()["name"] == "Seven v3"


def test_a_delete_is_a_tombstone_a_late_upsert_cannot_undo(rabbit, catalog, store, api_client):
    run(rabbit, catalog, event("catalog.product.upserted", product_doc(8, version=1)))
    assert api_client.get("/api/v1/catalog/products/8").status_code == 200
    run(
        rabbit,
        catalog,
        event("catalog.product.deleted", {"id": 8, "version": 5}),
        event("catalog.product.upserted", product_doc(8, version=4)),
    )
    assert api_client.get("/api/v1/catalog/products/8").status_code == 404


def test_a_category_rename_reaches_the_listing(rabbit, catalog, api_client):
    run(rabbit, catalog, event("catalog.product.upserted", product_doc(3, category_id=1, version=1)))
    api_client.get("/api/v1/catalog/categories")
    run(
        rabbit,
        catalog,
        event("catalog.category.upserted", {**CATEGORIES[0], "name": "Notebooks", "version": 2}),
    )
    names = [c["name"] for c in api_client.get("/api/v1/catalog/categories").json()["results"]]
    assert "Notebooks" in names


def test_a_document_that_breaks_the_contract_is_dead_lettered(rabbit, catalog, store):
    broken = event("catalog.product.upserted", {**product_doc(9), "price": "free"})
    stats = run(rabbit, catalog, broken)
    assert (stats.retried, stats.dead_lettered) == (MAX_ATTEMPTS - 1, 1)
    with Connection(rabbit.url) as conn:
        message = Queue(f"{catalog.name}.dlq", channel=conn.channel()).get(no_ack=True)
    assert orjson.loads(message.body)["id"] == broken.id
    assert "price" in message.headers["x-error"]


def test_an_order_reserves_once_and_its_cancellation_releases_once(rabbit, stock, api_client):
    placed = event("order.placed", {"order_id": 77, "lines": [{"product_id": 4, "quantity": 3}]})
    run(rabbit, stock, placed, placed)
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 7
    cancelled = event("order.cancelled", {"order_id": 77})
    run(rabbit, stock, cancelled, event("order.cancelled", {"order_id": 77}))
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 10


def test_the_order_services_events_reserve_and_release_the_sagas_own_reference(rabbit, stock, api_client):
    from extracted.product_service import services
    from extracted.product_service.store.port import StockLine

    doc = {
        "order_id": "TS-261207-ABCDEF",
        "number": "TS-261207-ABCDEF",
        "lines": [{"product_id": 4, "quantity": 2}],
    }
    services.stock_reserve(reference="order-TS-261207-ABCDEF", lines=[StockLine(4, 2)])  # the saga's command
    run(rabbit, stock, event("order.created", doc))
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 8  # one reservation, not two
    run(rabbit, stock, event("order.failed", doc), event("order.cancelled", doc))
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 10


def test_an_order_that_cannot_be_served_takes_nothing_and_is_not_retried(rabbit, stock, api_client):
    placed = event(
        "order.placed",
        {"order_id": 78, "lines": [{"product_id": 4, "quantity": 1}, {"product_id": 5, "quantity": 2}]},
    )
    stats = run(rabbit, stock, placed)
    assert (stats.processed, stats.retried) == (1, 0)
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 10


def test_a_stock_adjustment_applies_once_per_reference(rabbit, stock, api_client):
    first = event("stock.adjusted", {"product_id": 4, "delta": 5, "reference": "restock-1"})
    same_reference = event("stock.adjusted", {"product_id": 4, "delta": 5, "reference": "restock-1"})
    run(rabbit, stock, first, same_reference)
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 15


def test_while_the_monolith_owns_stock_order_events_leave_it_alone(rabbit, stock, settings, api_client):
    settings.PRODUCT_STOCK_OWNER = "monolith"
    run(rabbit, stock, event("order.placed", {"order_id": 79, "lines": [{"product_id": 4, "quantity": 2}]}))
    assert api_client.get("/api/v1/catalog/products/4").json()["stock"] == 10


def test_once_the_service_owns_stock_a_document_upsert_keeps_the_service_level(rabbit, stock, store):
    catalog = consumer_named(rabbit, consumers.CatalogConsumer, "catalog")
    run(rabbit, stock, event("order.placed", {"order_id": 80, "lines": [{"product_id": 4, "quantity": 4}]}))
    run(
        rabbit,
        catalog,
        event("catalog.product.upserted", product_doc(4, stock=10, name="Renamed", version=2)),
    )
    assert (store.get_product(4)["name"], store.get_product(4)["stock"]) == ("Renamed", 6)


def test_a_malformed_order_event_is_dead_lettered(rabbit, stock):
    stats = run(rabbit, stock, event("order.placed", {"order_id": 81, "lines": "all of them"}))
    assert stats.dead_lettered == 1
