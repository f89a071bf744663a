"""`sync products follow` end to end: monolith writes -> triggers -> outbox relay -> RabbitMQ (a vhost of
the test's own) -> the REAL Product service's catalog consumer (`python -m extracted.product_service
consume product_service.catalog`) -> verify finds 0 differences and `sync products status` says in sync."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
from django.db.models import F

from legacy_monolith.catalog.models import Category, Product, StockMovement
from legacy_monolith.catalog.services import product_update, stock_adjust
from legacy_monolith.demo.processes import service_manage
from migrations_data.outbox.relay import run_relay
from migrations_data.outbox.status import PRODUCT_SERVICE_QUEUE, sync_status
from migrations_data.products.verify import verify_products
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def broker_vhost() -> Iterator[str]:
    """A RabbitMQ vhost for this module only: the consumer's fixed queue names cannot meet other runs'."""
    name = f"test-h3a-follow-{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        rabbitmqctl("delete_vhost", name)


@pytest.fixture
def follow(product_service, sync_client, broker_vhost):
    """One round of `sync products follow --once` and the service's consumer until its queue is empty."""
    env = {**product_service.env, "BROKER_URL": broker_vhost}

    def consume() -> None:
        service_manage("product_service", "consume", PRODUCT_SERVICE_QUEUE, "--once", env=env)

    consume()  # declares the consumer's queue and bindings before anything is published

    def round_trip():
        result = run_relay(once=True, broker_url=broker_vhost, progress=False)
        consume()
        return result

    return round_trip


def status(sync_client, broker_vhost):
    return sync_status(client=sync_client, queue=PRODUCT_SERVICE_QUEUE, broker_url=broker_vhost)


def test_follow_brings_every_kind_of_monolith_write_to_the_product_service(follow, sync_client, broker_vhost):
    laptops, phones = CategoryFactory(), CategoryFactory()
    products = ProductFactory.create_batch(12, category=laptops) + ProductFactory.create_batch(
        8, category=phones
    )
    follow()
    assert status(sync_client, broker_vhost).in_sync

    stock_adjust(product=products[0], delta=5, reason=StockMovement.Reason.RESTOCK)
    product_update(product=products[1], data={"name": "Renamed through the service layer", "price": "12.30"})
    Product.objects.filter(pk__in=[p.pk for p in products[2:6]]).update(stock=F("stock") + 1)
    Product.objects.bulk_update(
        [Product(pk=p.pk, weight_grams=4321, updated_at=p.updated_at) for p in products[6:9]],
        ["weight_grams"],
    )
    Product.objects.filter(pk=products[9].pk).delete()
    Category.objects.filter(pk=phones.pk).update(name="Smartphones")
    ProductFactory.create_batch(3, category=phones)
    before = status(sync_client, broker_vhost)
    assert before.outbox_pending > 0
    assert not before.in_sync

    result = follow()

    assert result.events > 0
    report = verify_products(client=sync_client, range_size=100)
    assert (report.missing, report.extra, report.different) == ([], [], [])
    after = status(sync_client, broker_vhost)
    assert after.in_sync, after.as_dict()
    assert (after.consumer_lag_versions, after.queue_depth) == (0, 0)
