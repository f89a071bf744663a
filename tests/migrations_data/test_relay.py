"""The outbox relay against REAL PostgreSQL and RabbitMQ: what it publishes, coalescing, two relays side
by side, and no loss when the broker connection drops (tests/chassis/flaky_proxy.py in front of
RabbitMQ, which the test cuts).

Every test publishes to its own exchange and reads its own queue (uuid names, deleted afterwards).
The helpers here (EventQueue, relay_running) are shared with the broker-restart drill.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
import pytest
import requests
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone
from kombu import Connection, Exchange, Queue

from acl_adapters.catalog.translate import product_to_document, render_timestamp
from contracts.product import validate_movement
from legacy_monolith.catalog.models import Category, Product, StockMovement
from legacy_monolith.catalog.services import stock_reserve
from legacy_monolith.demo.processes import free_port
from migrations_data.models import OutboxEvent
from migrations_data.outbox.relay import RelayResult, broker_connection_args, run_relay
from migrations_data.outbox.status import sync_status
from tests.chassis.flaky_proxy import RABBITMQ, FlakyProxy
from tests.factories import CategoryFactory, ProductFactory

RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
WAIT_SECONDS = 60.0  # a deadline for waits, never an assertion on speed

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {timeout:.0f} s")
        time.sleep(0.05)


@dataclass
class EventQueue:
    """A durable queue bound to every routing key of a test's own durable exchange (both deleted after)."""

    url: str
    exchange: str
    queue: str
    received: list[dict] = field(default_factory=list)

    def drain(self) -> list[dict]:
        """Take every message waiting now; returns them and keeps them in `received`."""
        taken = []
        with Connection(self.url) as conn:
            queue = Queue(self.queue, channel=conn.default_channel)
            while (message := queue.get(no_ack=True)) is not None:
                taken.append(orjson.loads(message.body))
        self.received += taken
        return taken

    def latest_versions(self) -> dict[tuple[str, int], int]:
        """Highest version received per (routing key's entity, id), every message drained so far."""
        latest: dict[tuple[str, int], int] = {}
        for event in self.received:
            data = event["data"]
            if event["type"] == "catalog.stock.moved":  # immutable: its outbox row's version is its id
                key, version = ("stock_movement", data["id"]), data["id"]
            else:
                key, version = (event["type"].split(".")[1], data["id"]), data["version"]
            latest[key] = max(latest.get(key, 0), version)
        return latest


@contextmanager
def event_queue(url: str = RABBITMQ_URL) -> Iterator[EventQueue]:
    suffix = uuid.uuid4().hex[:12]
    events = EventQueue(url=url, exchange=f"test.h3a.events.{suffix}", queue=f"test.h3a.sync.{suffix}")
    exchange = Exchange(events.exchange, type="topic", durable=True)
    with Connection(url) as conn:
        Queue(events.queue, exchange, routing_key="#", durable=True)(conn.default_channel).declare()
    try:
        yield events
    finally:
        with Connection(url) as conn:
            channel = conn.default_channel
            Queue(events.queue, channel=channel).delete()
            exchange(channel).delete()


@pytest.fixture
def events() -> Iterator[EventQueue]:
    with event_queue() as queue:
        yield queue


@dataclass
class RunningRelay:
    stop_event: threading.Event
    thread: threading.Thread
    outcome: dict


@contextmanager
def relay_running(**options) -> Iterator[RunningRelay]:
    """run_relay in a thread (its own database connection) until the block ends; re-raises its error."""
    stop_event = threading.Event()
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["result"] = run_relay(stop_event=stop_event, progress=False, **options)
        except BaseException as exc:  # handed to the test thread below
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="outbox-relay", daemon=True)
    thread.start()
    running = RunningRelay(stop_event, thread, outcome)
    try:
        yield running
    finally:
        stop_event.set()
        thread.join(timeout=WAIT_SECONDS)
    assert not thread.is_alive(), "the relay did not stop"
    if "error" in outcome:
        raise outcome["error"]


def mark_all_sent() -> None:
    """What the fixtures wrote counts as relayed already: a test sees only its own changes."""
    OutboxEvent.objects.filter(sent_at__isnull=True).update(sent_at=timezone.now())


def pending() -> int:
    return OutboxEvent.objects.filter(sent_at__isnull=True).count()


def current_versions() -> dict[tuple[str, int], int]:
    """(entity, id) -> newest version in the outbox: what the consumer must end up with."""
    latest: dict[tuple[str, int], int] = {}
    for entity, entity_id, version in OutboxEvent.objects.values_list("entity", "entity_id", "version"):
        latest[(entity, entity_id)] = max(latest.get((entity, entity_id), 0), version)
    return latest


def relay_once(events: EventQueue, **options) -> RelayResult:
    return run_relay(once=True, exchange=events.exchange, broker_url=events.url, progress=False, **options)


@pytest.fixture
def cuttable_link() -> Iterator[FlakyProxy]:
    """A TCP proxy in front of RabbitMQ: `cut()` drops the relay's connections until `restore()`."""
    with FlakyProxy(RABBITMQ) as link:
        yield link


# --- what is published -----------------------------------------------------------------------------


def test_the_relay_publishes_exactly_the_changed_products_with_their_versions(events):
    products = ProductFactory.create_batch(5, category=CategoryFactory())
    mark_all_sent()
    changed = [products[0].pk, products[1].pk]
    Product.objects.filter(pk__in=changed).update(stock=F("stock") + 1)
    gone = products[2].pk
    Product.objects.filter(pk=gone).delete()
    tombstone_version = OutboxEvent.objects.get(entity="product", entity_id=gone, op="delete").version

    result = relay_once(events)

    received = events.drain()
    upserts = {e["data"]["id"]: e for e in received if e["type"] == "catalog.product.upserted"}
    assert sorted(upserts) == sorted(changed)
    for product_id, event in upserts.items():
        product = Product.objects.select_related("category").get(pk=product_id)
        assert event["data"] == product_to_document(product)
        assert event["data"]["version"] == product.sync_version
    deletes = [e["data"] for e in received if e["type"] == "catalog.product.deleted"]
    assert deletes == [{"id": gone, "version": tombstone_version}]
    assert len(received) == 3
    assert (result.rows, result.events, pending()) == (3, 3, 0)


def test_a_stock_movement_made_on_the_monolith_is_published_as_catalog_stock_moved(events):
    product = ProductFactory(stock=5)
    mark_all_sent()
    with transaction.atomic():
        stock_reserve(lines=[(product.pk, 2)], reference="TS-MOVED-1")
    movement = StockMovement.objects.get(reference="TS-MOVED-1")

    relay_once(events)

    moved = [e["data"] for e in events.drain() if e["type"] == "catalog.stock.moved"]
    assert moved == [validate_movement(moved[0])]
    assert moved[0] == {
        "id": movement.pk,
        "product_id": product.pk,
        "delta": -2,
        "balance_after": 3,
        "reason": "reservation",
        "reference": "TS-MOVED-1",
        "actor_id": None,
        "created_at": render_timestamp(movement.created_at),
    }
    assert pending() == 0


def test_every_event_carries_the_envelope_of_the_events_contract(events):
    ProductFactory()
    relay_once(events)
    for event in events.drain():
        # catalog events are not critical: a digest of their content, no signature (contracts/event_trust.py)
        assert set(event) == {"id", "type", "occurred_at", "trace_id", "source", "version", "data", "digest"}
        assert str(uuid.UUID(event["id"])) == event["id"]
        assert event["occurred_at"].endswith("Z")
        assert (event["source"], event["version"]) == ("monolith", 1)
        assert event["type"] in {"catalog.product.upserted", "catalog.category.upserted"}


def test_a_catalog_event_continues_the_trace_of_the_request_that_wrote_the_change(
    events, client_for, staff_user
):
    """The triggers cannot see the request, so the monolith's write requests leave their trace id in a
    session setting they read (PostgreSQL); the relay publishes the event in that trace. Writes outside a
    request (here the factory) still get a trace of their own."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("the embedded profile (SQLite) mints a trace per event")
    product, other = ProductFactory.create_batch(2)
    mark_all_sent()
    trace = uuid.uuid4().hex
    answer = client_for(staff_user).patch(
        f"/api/v1/catalog/products/{product.pk}", {"name": "Traced product"}, format="json",
        HTTP_TRACEPARENT=f"00-{trace}-00f067aa0ba902b7-01",
    )  # fmt: skip
    assert answer.status_code == 200, answer.content
    Product.objects.filter(pk=other.pk).update(stock=F("stock") + 1)  # no request: no trace known

    relay_once(events)

    traces = {
        e["data"]["id"]: e["trace_id"] for e in events.drain() if e["type"] == "catalog.product.upserted"
    }
    assert traces[product.pk] == trace
    assert len(traces[other.pk]) == 32
    assert traces[other.pk] != trace
    with connections["default"].cursor() as cursor:  # the setting does not outlive the request
        cursor.execute("SELECT coalesce(current_setting('strangler.trace_id', true), '')")
        assert cursor.fetchone()[0] == ""


def test_a_category_rename_publishes_the_category_and_each_of_its_products_again(events):
    category = CategoryFactory()
    inside = ProductFactory.create_batch(2, category=category)
    ProductFactory()  # elsewhere
    mark_all_sent()
    Category.objects.filter(pk=category.pk).update(name="Laptops and tablets")
    relay_once(events)
    received = events.drain()
    assert [e["data"]["name"] for e in received if e["type"] == "catalog.category.upserted"] == [
        "Laptops and tablets"
    ]
    products = [e["data"] for e in received if e["type"] == "catalog.product.upserted"]
    assert sorted(doc["id"] for doc in products) == sorted(p.pk for p in inside)
    assert {doc["category"]["name"] for doc in products} == {"Laptops and tablets"}


def test_several_changes_of_one_product_in_a_batch_become_one_event_with_the_latest_version(events):
    product = ProductFactory(stock=1)
    mark_all_sent()
    for stock in range(2, 7):
        Product.objects.filter(pk=product.pk).update(stock=stock)
    result = relay_once(events, batch_size=100)
    [event] = events.drain()
    product.refresh_from_db()
    assert (event["data"]["stock"], event["data"]["version"]) == (6, product.sync_version)
    assert (result.rows, result.events, result.coalesced) == (5, 1, 4)


def test_an_update_followed_by_a_delete_publishes_only_the_tombstone(events):
    product = ProductFactory()
    mark_all_sent()
    Product.objects.filter(pk=product.pk).update(stock=0)
    Product.objects.filter(pk=product.pk).delete()
    relay_once(events)
    assert [e["type"] for e in events.drain()] == ["catalog.product.deleted"]


def test_two_relays_side_by_side_publish_each_outbox_row_once(events):
    products = ProductFactory.create_batch(60, category=CategoryFactory())
    mark_all_sent()
    Product.objects.filter(pk__in=[p.pk for p in products]).update(weight_grams=777)
    options = {"exchange": events.exchange, "broker_url": events.url, "batch_size": 5, "poll_interval": 0.05}
    with relay_running(**options), relay_running(**options):
        wait_until(lambda: pending() == 0, "both relays to drain the outbox")
    ids = [e["data"]["id"] for e in events.drain()]
    assert sorted(ids) == sorted(p.pk for p in products)  # each exactly once: SKIP LOCKED split the rows


# --- failures: nothing lost ------------------------------------------------------------------------


def test_a_dropped_broker_connection_loses_no_change_and_the_relay_resumes(events, cuttable_link):
    category = CategoryFactory()
    first = ProductFactory.create_batch(10, category=category)
    with relay_running(
        exchange=events.exchange, broker_url=cuttable_link.amqp_url, batch_size=4, poll_interval=0.05
    ):
        wait_until(lambda: pending() == 0, "the first changes to be relayed")
        cuttable_link.cut()
        Product.objects.filter(pk__in=[p.pk for p in first[:5]]).update(stock=F("stock") + 3)
        second = ProductFactory.create_batch(10, category=category)
        Product.objects.filter(pk=second[0].pk).delete()
        wait_until(
            lambda: OutboxEvent.objects.filter(sent_at__isnull=True, attempts__gt=0).exists(),
            "the relay to fail a publish while the link is cut",
        )
        assert pending() > 0  # nothing was marked sent while the broker was unreachable
        cuttable_link.restore()
        wait_until(lambda: pending() == 0, "the relay to catch up after the link came back")
    events.drain()
    assert events.latest_versions() == current_versions()


def test_a_relay_stopped_while_the_broker_is_unreachable_leaves_the_rows_pending(events, cuttable_link):
    cuttable_link.cut()
    ProductFactory.create_batch(3)
    before = pending()
    options = {"exchange": events.exchange, "broker_url": cuttable_link.amqp_url, "poll_interval": 0.05}
    with relay_running(**options) as relay:
        wait_until(lambda: OutboxEvent.objects.filter(attempts__gt=0).exists(), "a failed publish attempt")
    assert relay.outcome["result"].stopped_by == "stopped"
    assert relay.outcome["result"].failures >= 1
    assert pending() == before
    assert events.drain() == []


# --- lag: metrics and status -----------------------------------------------------------------------


def test_the_metrics_port_serves_the_outbox_backlog_and_lag_gauges(events, cuttable_link):
    cuttable_link.cut()  # keep rows pending so the gauges have something to show
    ProductFactory.create_batch(2)
    port = free_port()
    with relay_running(
        exchange=events.exchange, broker_url=cuttable_link.amqp_url, metrics_port=port, poll_interval=0.05
    ):

        def gauges() -> dict[str, float]:
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                return {}
            return {
                line.split()[0]: float(line.split()[1])
                for line in text.splitlines()
                if line.startswith(("strangler_sync_outbox_pending ", "strangler_sync_lag_seconds "))
            }

        wait_until(lambda: gauges().get("strangler_sync_outbox_pending", 0) >= pending() > 0, "the gauges")
        assert gauges()["strangler_sync_lag_seconds"] > 0


def test_status_reports_the_pending_rows_and_the_age_of_the_oldest(settings):
    settings.PRODUCT_SERVICE_URL = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    mark_all_sent()
    ProductFactory.create_batch(2)
    status = sync_status()
    assert status.outbox_pending == pending() > 0
    assert status.relay_lag_seconds > 0
    assert status.target_error is not None
    assert "target_unavailable" in status.target_error
    assert status.consumer_lag_versions is None
    assert not status.in_sync


def test_status_reports_the_rabbitmq_queue_depth_and_says_a_missing_queue_has_had_no_consumer(events):
    ProductFactory()
    relay_once(events)
    waiting = len(current_versions())
    status = sync_status(queue=events.queue, broker_url=events.url)
    assert (status.queue_depth, status.queue_error) == (waiting, None)
    missing = sync_status(queue=f"{events.queue}.missing", broker_url=events.url)
    assert (missing.queue_depth, missing.queue_missing) == (None, True)
    assert missing.queue_error == "the queue does not exist yet (no consumer has run)"
    down = sync_status(queue=events.queue, broker_url=f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    assert not down.queue_missing
    assert down.queue_error.startswith("broker unreachable: ")


def test_an_idle_relay_deletes_rows_sent_longer_ago_than_the_retention_and_keeps_the_rest(events):
    old, recent = ProductFactory(), ProductFactory()
    mark_all_sent()
    OutboxEvent.objects.filter(entity_id=old.pk, entity="product").update(
        sent_at=timezone.now() - timedelta(days=8)
    )
    Product.objects.filter(pk=old.pk).update(stock=0)  # pending: never pruned, published below
    expired = OutboxEvent.objects.filter(sent_at__lt=timezone.now() - timedelta(days=7))
    kept = set(OutboxEvent.objects.exclude(id__in=expired).values_list("id", flat=True))
    result = relay_once(events, retention=timedelta(days=7))
    assert set(OutboxEvent.objects.values_list("id", flat=True)) == kept
    assert result.pruned == 1
    assert [e["data"]["id"] for e in events.drain()] == [old.pk]
    assert OutboxEvent.objects.filter(entity="product", entity_id=recent.pk).exists()


def test_without_a_broker_url_the_relay_publishes_through_the_embedded_filesystem_transport(
    settings, tmp_path
):
    settings.VAR_DIR = tmp_path
    settings.BROKER_URL = ""
    url, options = broker_connection_args()
    assert url == "filesystem://"
    queue_name = f"test.h3a.embedded.{uuid.uuid4().hex[:8]}"
    exchange = Exchange("strangler.events", type="topic", durable=True)
    with Connection(url, transport_options=options) as conn:
        Queue(queue_name, exchange, routing_key="catalog.#")(conn.default_channel).declare()
    product = ProductFactory()
    mark_all_sent()
    Product.objects.filter(pk=product.pk).update(stock=42)
    run_relay(once=True, progress=False)
    with Connection(url, transport_options=options) as conn:
        message = Queue(queue_name, channel=conn.default_channel).get(no_ack=True)
    event = orjson.loads(message.body)
    assert (event["type"], event["data"]["id"], event["data"]["stock"]) == (
        "catalog.product.upserted",
        product.pk,
        42,
    )
