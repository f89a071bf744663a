"""THE DRILL: restart RabbitMQ while the outbox relay runs and the monolith keeps writing: 0 events lost.

The broker is a RabbitMQ node of this test's own (tests/rabbitmq_node.py), stopped with `rabbitmqctl
stop_app` and started again with `start_app` (it is started again whatever happens in the test); the shared
broker the other sessions use is never touched.

Proof of no loss: after the restart, once the relay has drained the outbox, the newest version that
reached the test's durable queue for every product and category equals the newest version in the
outbox: every change the monolith committed before, during and after the outage arrived.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connections
from django.db.models import F
from kombu import Connection

from legacy_monolith.catalog.models import Category, Product, StockMovement
from legacy_monolith.catalog.services import product_update, stock_adjust
from migrations_data.models import OutboxEvent
from tests.factories import CategoryFactory, ProductFactory
from tests.migrations_data.test_relay import (
    WAIT_SECONDS,
    current_versions,
    event_queue,
    pending,
    relay_running,
    wait_until,
)
from tests.rabbitmq_node import private_rabbitmq

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def broker():
    with private_rabbitmq("relaydrill") as node:
        yield node


def broker_answers(url: str) -> bool:
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
            return True
    except Exception:  # refused or reset while the app starts
        return False


class Writer(threading.Thread):
    """The monolith keeps writing (stock movements, edits, new and deleted products) until stopped."""

    def __init__(self, products: list[Product], category: Category) -> None:
        super().__init__(name="monolith-writes", daemon=True)
        self.products, self.category = products, category
        self.stop_event = threading.Event()
        self.writes = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        rng = random.Random(7)
        try:
            while not self.stop_event.is_set():
                product = rng.choice(self.products)
                kind = self.writes % 4
                if kind == 0:
                    stock_adjust(product=product, delta=1, reason=StockMovement.Reason.RESTOCK)
                elif kind == 1:
                    product_update(product=product, data={"name": f"Edited {self.writes}"})
                elif kind == 2:
                    Product.objects.filter(pk=product.pk).update(weight_grams=F("weight_grams") + 1)
                else:
                    doomed = ProductFactory(category=self.category, stock=0)
                    Product.objects.filter(pk=doomed.pk).delete()
                self.writes += 1
                time.sleep(0.01)
        except BaseException as exc:  # handed to the test thread
            self.error = exc
        finally:
            connections.close_all()


def test_drill_rabbitmq_restart_while_the_relay_runs_and_writes_continue_loses_no_event(broker):
    category = CategoryFactory()
    products = ProductFactory.create_batch(20, category=category)
    with event_queue(broker.url) as events:
        writer = Writer(products, category)
        with relay_running(
            exchange=events.exchange, broker_url=broker.url, batch_size=50, poll_interval=0.05
        ):
            writer.start()
            wait_until(lambda: writer.writes >= 20, "writes before the restart")
            try:
                broker.stop_app()
                down_at = writer.writes
                # Keep the broker down until the relay has failed a publish: the drill must hit the relay.
                wait_until(
                    lambda: OutboxEvent.objects.filter(sent_at__isnull=True, attempts__gt=0).exists(),
                    "the relay to fail a publish while the broker is stopped",
                )
                wait_until(lambda: writer.writes >= down_at + 20, "writes while the broker is down")
            finally:
                broker.start_app()
                wait_until(lambda: broker_answers(broker.url), "RabbitMQ to answer again")
            up_at = writer.writes
            wait_until(lambda: writer.writes >= up_at + 20, "writes after the restart")
            writer.stop_event.set()
            writer.join(timeout=WAIT_SECONDS)
            assert writer.error is None, writer.error
            wait_until(lambda: pending() == 0, "the relay to drain the outbox after the restart")
        while events.drain():
            pass
        expected = current_versions()
        assert len(expected) > len(products)  # creates and deletes happened, not only updates
        assert events.latest_versions() == expected
