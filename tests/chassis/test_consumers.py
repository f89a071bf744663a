import pytest
from django.core.management import call_command
from kombu import Connection, Exchange, Queue

from chassis.broker import Publisher
from chassis.consumers import ConsumerWorker
from chassis.models import ProcessedEvent
from chassis.outbox.models import OutboxEvent
from contracts.events import Envelope
from tests.chassis.chassis_service import consumers as test_consumers

pytestmark = pytest.mark.django_db(transaction=True)
MAX_ATTEMPTS = 3


@pytest.fixture
def widgets(rabbit, monkeypatch):
    """The test consumer under a unique name; its queues are deleted after the test."""
    monkeypatch.setattr(test_consumers.WidgetConsumer, "name", rabbit.prefix)
    monkeypatch.setattr(test_consumers, "FAILURES_LEFT", {})
    rabbit.queues += [rabbit.prefix, f"{rabbit.prefix}.dlq"]
    rabbit.queues += [f"{rabbit.prefix}.retry.{n}" for n in range(1, MAX_ATTEMPTS)]
    return test_consumers.WidgetConsumer


def worker_for(rabbit, consumer_cls, conn) -> ConsumerWorker:
    worker = ConsumerWorker(
        consumer_cls(), conn, exchange=rabbit.exchange, max_attempts=MAX_ATTEMPTS, retry_base_ms=50
    )
    worker.declare()
    return worker


def publish(rabbit, *envelopes: Envelope) -> None:
    with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
        for envelope in envelopes:
            publisher.publish(envelope)


def dead_letters(conn, name: str) -> list:
    out = []
    while (message := Queue(f"{name}.dlq", channel=conn.channel()).get(no_ack=True)) is not None:
        out.append(message)
    return out


def effects() -> int:
    return OutboxEvent.objects.filter(type="widget.recorded").count()


def widget_created() -> Envelope:
    return Envelope.new("widget.created", {"id": 1}, source="chassis_service")


def test_a_replayed_event_is_applied_once(rabbit, widgets):
    envelope = widget_created()
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        publish(rabbit, envelope, envelope)
        stats = worker.run(once=True, idle_timeout=1.0)
    assert (stats.processed, stats.duplicate) == (1, 1)
    assert effects() == 1
    assert ProcessedEvent.objects.filter(consumer=widgets.name, event_id=envelope.id).count() == 1


def test_a_failing_event_is_retried_with_backoff_then_succeeds(rabbit, widgets):
    envelope = widget_created()
    test_consumers.FAILURES_LEFT[envelope.id] = 2
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        publish(rabbit, envelope)
        stats = worker.run(once=True, idle_timeout=2.0)
        assert dead_letters(conn, widgets.name) == []
    assert (stats.retried, stats.processed, stats.dead_lettered) == (2, 1, 0)
    assert effects() == 1  # the two failed attempts' effects were rolled back


def test_a_poison_event_goes_to_the_dead_letter_queue_after_the_last_attempt(rabbit, widgets):
    envelope = widget_created()
    test_consumers.FAILURES_LEFT[envelope.id] = 99
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        publish(rabbit, envelope)
        stats = worker.run(once=True, idle_timeout=2.0)
        [dead] = dead_letters(conn, widgets.name)
    assert (stats.retried, stats.dead_lettered, stats.processed) == (MAX_ATTEMPTS - 1, 1, 0)
    assert Envelope.from_json(dead.body) == envelope
    assert dead.headers["x-attempts"] == MAX_ATTEMPTS
    assert "widget store unavailable" in dead.headers["x-error"]
    assert dead.headers["x-original-routing-key"] == "widget.created"
    assert effects() == 0
    assert not ProcessedEvent.objects.filter(event_id=envelope.id).exists()


@pytest.mark.parametrize("body", [b"not json", b'{"id": "x"}', b'{"type": "widget.created"}'])
def test_a_malformed_envelope_goes_straight_to_the_dead_letter_queue(rabbit, widgets, body):
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        exchange = Exchange(rabbit.exchange, type="topic", durable=True)
        conn.Producer().publish(
            body, exchange=exchange, routing_key="widget.created", content_type="application/json"
        )
        stats = worker.run(once=True, idle_timeout=1.0)
        [dead] = dead_letters(conn, widgets.name)
    assert (stats.dead_lettered, stats.retried) == (1, 0)
    assert dead.body == body
    assert dead.headers["x-attempts"] == 1
    assert dead.headers["x-error"].startswith("malformed envelope")


def test_an_event_type_without_a_handler_is_acknowledged_and_ignored(rabbit, widgets):
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        publish(rabbit, Envelope.new("widget.painted", {"id": 1}, source="chassis_service"))
        stats = worker.run(once=True, idle_timeout=1.0)
        assert dead_letters(conn, widgets.name) == []
    assert (stats.ignored, stats.processed) == (1, 0)


def test_the_consume_command_runs_a_consumer_named_in_settings(rabbit, widgets, settings, capsys, client):
    settings.BROKER_URL = rabbit.url
    settings.BROKER_TRANSPORT_OPTIONS = {}
    settings.EVENTS_EXCHANGE = rabbit.exchange
    settings.CONSUMER_MAX_ATTEMPTS = MAX_ATTEMPTS
    settings.CONSUMER_RETRY_BASE_MS = 50
    settings.CONSUMERS = ["tests.chassis.chassis_service.consumers.WidgetConsumer"]
    with Connection(rabbit.url) as conn:
        worker_for(rabbit, widgets, conn)  # declares the queue before anything is published
    publish(rabbit, widget_created(), widget_created())
    call_command("consume", widgets.name, "--max-messages", "2")
    assert "2 processed" in capsys.readouterr().out
    assert effects() == 2
    metrics = client.get("/metrics").content.decode()
    assert f'consumer_events_total{{consumer="{widgets.name}",outcome="processed"}} 2.0' in metrics


def test_the_consume_command_names_the_known_consumers_when_asked_for_another(settings):
    from django.core.management.base import CommandError

    settings.CONSUMERS = ["tests.chassis.chassis_service.consumers.WidgetConsumer"]
    with pytest.raises(CommandError, match=r"no consumer named 'nope'.*known: widgets"):
        call_command("consume", "nope", "--once")


def test_the_embedded_filesystem_broker_retries_at_once_and_dead_letters_poison(tmp_path, widgets):
    from chassis.settings import filesystem_broker_options

    options = filesystem_broker_options(tmp_path / "broker")
    envelope = widget_created()
    test_consumers.FAILURES_LEFT[envelope.id] = 99
    with Connection("filesystem://", transport_options={**options, "polling_interval": 0.05}) as conn:
        worker = ConsumerWorker(widgets(), conn, max_attempts=MAX_ATTEMPTS)
        worker.declare()
        with Publisher("filesystem://", transport_options=options) as publisher:
            publisher.publish(envelope)
        stats = worker.run(once=True, idle_timeout=0.5)
        [dead] = dead_letters(conn, widgets.name)
    assert worker.retry_queues() == []
    assert (stats.retried, stats.dead_lettered) == (MAX_ATTEMPTS - 1, 1)
    assert dead.headers["x-attempts"] == MAX_ATTEMPTS
    assert effects() == 0


def test_a_consumer_reconnects_after_losing_the_broker(rabbit, widgets):
    from tests.chassis.flaky_proxy import FlakyProxy

    with FlakyProxy(drop_first=2) as proxy:
        with Connection(proxy.amqp_url, connect_timeout=2) as conn:
            with Connection(rabbit.url) as direct:
                worker_for(rabbit, widgets, direct)
            publish(rabbit, widget_created())
            worker = ConsumerWorker(
                widgets(), conn, exchange=rabbit.exchange, max_attempts=MAX_ATTEMPTS, retry_base_ms=50
            )
            stats = worker.run(max_messages=1)
        assert stats.processed == 1
        assert proxy.accepted >= 3


def test_a_garbage_attempt_header_counts_as_a_first_attempt(rabbit, widgets):
    envelope = widget_created()
    test_consumers.FAILURES_LEFT[envelope.id] = 1
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        exchange = Exchange(rabbit.exchange, type="topic", durable=True)
        conn.Producer().publish(
            envelope.to_json(),
            exchange=exchange,
            routing_key=envelope.type,
            content_type="application/json",
            headers={"x-attempts": "many"},
        )
        stats = worker.run(once=True, idle_timeout=2.0)
    assert (stats.retried, stats.processed, stats.dead_lettered) == (1, 1, 0)


def test_a_stopped_consumer_returns_from_run(rabbit, widgets):
    import threading

    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, widgets, conn)
        runner = threading.Thread(target=worker.run, kwargs={"idle_timeout": 0.2})
        runner.start()
        worker.stop()
        runner.join(10)
        assert not runner.is_alive()
