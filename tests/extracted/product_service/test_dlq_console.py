"""The chassis' dead-letter console works for the Product service's own consumers: a stock event the stock
consumer cannot apply is dead-lettered by the real worker, then listed and replayed by the real command
(`python -m extracted.product_service events dlq ...`), on a RabbitMQ virtual host of the test's own."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from kombu import Connection, Queue

from chassis.broker import Publisher
from chassis.consumers import ConsumerWorker
from contracts.events import Envelope
from extracted.product_service.consumers import CatalogConsumer, StockConsumer
from legacy_monolith.demo.processes import python_argv
from tests.background import rabbitmq_vhost

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def vhost():
    with rabbitmq_vhost() as url:
        yield url


def console(vhost: str, *args: str) -> dict:
    argv = python_argv("-m", "extracted.product_service", "events", "dlq", *args, "--json")
    done = subprocess.run(argv, env={**os.environ, "BROKER_URL": vhost}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_console_lists_and_replays_the_stock_consumers_dead_letters(vhost, settings):
    settings.PRODUCT_STOCK_OWNER = "service"
    bad = Envelope.new("order.placed", {"order_id": 7, "lines": "not a list"}, source="order_service")
    with Connection(vhost) as conn:
        worker = ConsumerWorker(StockConsumer(), conn, max_attempts=2, retry_base_ms=20)
        worker.declare()
        with Publisher(vhost) as publisher:
            publisher.publish(bad)
        worker.run(once=True, idle_timeout=1.0)

    listed = console(vhost, "list")
    assert listed["counts"] == {CatalogConsumer.name: 0, StockConsumer.name: 1}
    [letter] = listed["dead_letters"]
    assert (letter["id"], letter["consumer"], letter["attempts"]) == (bad.id, StockConsumer.name, 2)
    assert "InvalidStockEvent: data.lines must be a non-empty list" in letter["error"]

    assert console(vhost, "replay", "--all", "--consumer", StockConsumer.name)["done"] == [bad.id]
    with Connection(vhost) as conn:
        channel = conn.channel()
        assert Queue(StockConsumer.name, durable=True)(channel).queue_declare(passive=True).message_count == 1
        assert Queue(f"{StockConsumer.name}.dlq")(channel).queue_declare(passive=True).message_count == 0
