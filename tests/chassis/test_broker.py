import pytest
from kombu import Connection, Queue

from chassis.broker import Publisher, PublishError, events_exchange
from contracts.events import Envelope
from legacy_monolith.demo.processes import free_port
from tests.chassis.flaky_proxy import FlakyProxy


def bound_queue(conn, rabbit, pattern: str) -> Queue:
    name = f"{rabbit.prefix}.{len(rabbit.queues)}"
    rabbit.queues.append(name)
    queue = Queue(name, exchange=events_exchange(rabbit.exchange), routing_key=pattern)
    queue(conn.channel()).declare()
    return queue


def test_a_published_event_reaches_every_queue_bound_to_its_type(rabbit):
    envelope = Envelope.new("catalog.product.upserted", {"id": 1}, source="product_service")
    with Connection(rabbit.url) as conn:
        catalog = bound_queue(conn, rabbit, "catalog.#")
        stock = bound_queue(conn, rabbit, "stock.*")
        with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
            publisher.publish(envelope)
        message = catalog(conn.channel()).get(no_ack=True)
        assert Envelope.from_json(message.body) == envelope
        assert message.properties["message_id"] == envelope.id
        assert message.properties["delivery_mode"] == 2
        assert stock(conn.channel()).get(no_ack=True) is None


def test_a_routing_key_can_differ_from_the_event_type(rabbit):
    envelope = Envelope.new("catalog.product.upserted", {"id": 1}, source="product_service")
    with Connection(rabbit.url) as conn:
        replay = bound_queue(conn, rabbit, "replay.#")
        with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
            publisher.publish(envelope, routing_key="replay.catalog")
        assert Envelope.from_json(replay(conn.channel()).get(no_ack=True).body) == envelope


def test_amqp_publishing_waits_for_publisher_confirms():
    publisher = Publisher("amqp://guest:guest@127.0.0.1:5672//")
    assert publisher.transport_options["confirm_publish"] is True


def test_publishing_retries_through_a_broker_outage(rabbit):
    envelope = Envelope.new("order.placed", {"order_id": 1, "lines": []}, source="monolith")
    with FlakyProxy(drop_first=2) as proxy, Connection(rabbit.url) as conn:
        orders = bound_queue(conn, rabbit, "order.*")
        with Publisher(proxy.amqp_url, exchange=rabbit.exchange, attempts=5, backoff_max=0.2) as publisher:
            publisher.publish(envelope)
        assert proxy.accepted >= 3  # two dropped connections, then the one that delivered
        assert Envelope.from_json(orders(conn.channel()).get(no_ack=True).body) == envelope


def test_an_unreachable_broker_ends_in_a_clear_error_after_the_retry_budget():
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    envelope = Envelope.new("order.placed", {"order_id": 1, "lines": []}, source="monolith")
    with pytest.raises(PublishError, match=f"event {envelope.id} .* not confirmed after 3 attempts"):
        Publisher(url, attempts=3, backoff_max=0.1).publish(envelope)


def test_the_filesystem_broker_routes_topics_between_separate_connections(tmp_path):
    from chassis.settings import filesystem_broker_options

    options = filesystem_broker_options(tmp_path / "broker")
    envelope = Envelope.new("stock.reserved", {"reference": "r1"}, source="product_service")
    with Connection("filesystem://", transport_options=options) as consumer_side:
        queue = Queue("stock-consumer", exchange=events_exchange(), routing_key="stock.#")
        queue(consumer_side.channel()).declare()
        with Publisher("filesystem://", transport_options=options) as publisher:
            publisher.publish(envelope)
        message = queue(consumer_side.channel()).get(no_ack=True)
    assert Envelope.from_json(message.body) == envelope


def test_a_message_the_broker_refuses_is_nacked_and_ends_in_a_publish_error(rabbit):
    """A full queue with overflow=reject-publish makes RabbitMQ nack: only a confirming publisher sees it."""
    envelope = Envelope.new("stock.adjusted", {"product_id": 1, "delta": 1}, source="product_service")
    name = f"{rabbit.prefix}.full"
    rabbit.queues.append(name)
    with Connection(rabbit.url) as conn:
        full = Queue(
            name,
            exchange=events_exchange(rabbit.exchange),
            routing_key="stock.#",
            queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
        )
        full(conn.channel()).declare()
        with (
            Publisher(rabbit.url, exchange=rabbit.exchange, attempts=2, backoff_max=0.05) as publisher,
            pytest.raises(PublishError, match="MessageNacked"),
        ):
            publisher.publish(envelope)
