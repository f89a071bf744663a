"""The dead-letter console (`events dlq ...`) against the real RabbitMQ: poison events dead-lettered by the
real consumer worker, then listed, shown, replayed through the normal consumer path, and purged."""

from __future__ import annotations

import json
import os
import subprocess
from io import StringIO

import pytest
from django.core.management import call_command
from kombu import Connection, Queue

from chassis.broker import Publisher
from chassis.consumers import ConsumerWorker
from chassis.models import ProcessedEvent
from chassis.outbox.models import OutboxEvent
from contracts import cli
from contracts.events import Envelope
from legacy_monolith.demo.processes import python_argv
from tests.chassis.chassis_service import consumers as test_consumers

pytestmark = pytest.mark.django_db(transaction=True)
MAX_ATTEMPTS = 2


@pytest.fixture
def widgets(rabbit, monkeypatch, settings):
    """The test consumer under a unique name, on the real broker; its queues are deleted after the test."""
    monkeypatch.setattr(test_consumers.WidgetConsumer, "name", rabbit.prefix)
    monkeypatch.setattr(test_consumers, "FAILURES_LEFT", {})
    settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS = rabbit.url, {"confirm_publish": True}
    rabbit.queues += [rabbit.prefix, f"{rabbit.prefix}.dlq", f"{rabbit.prefix}.retry.1"]
    return test_consumers.WidgetConsumer


def worker_on(rabbit, consumer_cls, conn) -> ConsumerWorker:
    return ConsumerWorker(
        consumer_cls(), conn, exchange=rabbit.exchange, max_attempts=MAX_ATTEMPTS, retry_base_ms=50
    )


def consume(rabbit, consumer_cls) -> None:
    with Connection(rabbit.url) as conn:
        worker = worker_on(rabbit, consumer_cls, conn)
        worker.declare()
        worker.run(once=True, idle_timeout=1.0)


def poison(rabbit, consumer_cls, *envelopes: Envelope) -> None:
    """Publish events that fail every attempt, and let the consumer dead-letter them."""
    for envelope in envelopes:
        test_consumers.FAILURES_LEFT[envelope.id] = 99
    with Connection(rabbit.url) as conn:  # the queue and its bindings exist before the publish
        worker_on(rabbit, consumer_cls, conn).declare()
    with Publisher(rabbit.url, exchange=rabbit.exchange) as publisher:
        for envelope in envelopes:
            publisher.publish(envelope)
    consume(rabbit, consumer_cls)


def dlq(*args: str) -> dict:
    out = StringIO()
    call_command("events", "dlq", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def depth(rabbit, name: str) -> int:
    with Connection(rabbit.url) as conn:
        return Queue(name, durable=True)(conn.channel()).queue_declare().message_count


def widget(n: int) -> Envelope:
    return Envelope.new("widget.created", {"id": n}, source="chassis_service")


def test_list_says_why_each_message_failed(rabbit, widgets):
    envelope = widget(1)
    poison(rabbit, widgets, envelope)
    listed = dlq("list", "--consumer", widgets.name)
    [letter] = listed["dead_letters"]
    assert listed["counts"] == {widgets.name: 1}
    assert (letter["id"], letter["event_type"], letter["attempts"]) == (envelope.id, "widget.created", 2)
    assert letter["error"].startswith("RuntimeError: widget store unavailable")
    assert letter["first_failed_at"]
    assert letter["first_failed_at"] < letter["last_failed_at"]
    assert depth(rabbit, f"{widgets.name}.dlq") == 1  # listing takes nothing away


def test_show_prints_the_headers_and_the_envelope(rabbit, widgets):
    envelope = widget(2)
    poison(rabbit, widgets, envelope)
    [letter] = dlq("show", envelope.id)["dead_letters"]
    assert letter["envelope"]["data"] == {"id": 2}
    assert letter["headers"]["x-original-routing-key"] == "widget.created"
    with pytest.raises(cli.CheckFailed, match="no dead letter") as missing:
        dlq("show", "no-such-id")
    assert (missing.value.code, missing.value.exit_code) == ("dead_letter_not_found", 1)


def test_a_replayed_message_goes_through_the_normal_consumer_path(rabbit, widgets):
    first, second = widget(3), widget(4)
    poison(rabbit, widgets, first, second)
    dry = dlq("replay", first.id, "--dry-run")
    assert (dry["done"], depth(rabbit, f"{widgets.name}.dlq"), depth(rabbit, widgets.name)) == (
        [first.id],
        2,
        0,
    )

    test_consumers.FAILURES_LEFT.clear()  # the cause is fixed
    assert dlq("replay", first.id)["done"] == [first.id]
    assert (depth(rabbit, f"{widgets.name}.dlq"), depth(rabbit, widgets.name)) == (1, 1)
    consume(rabbit, widgets)
    assert ProcessedEvent.objects.filter(consumer=widgets.name, event_id=first.id).exists()
    assert OutboxEvent.objects.filter(type="widget.recorded").count() == 1  # failed attempts rolled back
    [left] = dlq("list")["dead_letters"]
    assert left["id"] == second.id


def test_a_replay_that_fails_again_comes_back_once_with_its_replay_counted(rabbit, widgets):
    envelope = widget(5)
    poison(rabbit, widgets, envelope)
    assert dlq("replay", "--all", "--consumer", widgets.name)["done"] == [envelope.id]
    consume(rabbit, widgets)  # still failing: dead-lettered again
    [letter] = dlq("list")["dead_letters"]
    assert (letter["id"], letter["replays"], letter["attempts"]) == (envelope.id, 1, 2)


def test_purge_drops_dead_letters_for_good(rabbit, widgets):
    poison(rabbit, widgets, widget(6), widget(7))
    with pytest.raises(cli.UsageError, match="needs --consumer") as usage:
        dlq("purge", "--all")
    assert usage.value.exit_code == 2
    assert len(dlq("purge", "--all", "--consumer", widgets.name, "--dry-run")["done"]) == 2
    assert depth(rabbit, f"{widgets.name}.dlq") == 2
    assert len(dlq("purge", "--all", "--consumer", widgets.name)["done"]) == 2
    assert depth(rabbit, f"{widgets.name}.dlq") == 0


def test_a_malformed_message_is_listed_under_the_digest_of_its_body(rabbit, widgets):
    with Connection(rabbit.url) as conn:
        worker_on(rabbit, widgets, conn).declare()
        conn.default_channel.basic_publish(
            conn.default_channel.prepare_message(b"not json"), "", widgets.name
        )
    consume(rabbit, widgets)
    [letter] = dlq("list")["dead_letters"]
    assert letter["id"].startswith("sha-")
    assert letter["event_type"] == "(malformed)"
    assert letter["error"].startswith("malformed envelope")
    assert dlq("purge", letter["id"])["done"] == [letter["id"]]


def test_an_unknown_consumer_or_an_unreachable_broker_is_one_line_and_exit_2(tmp_path):
    env = {"BROKER_URL": "amqp://guest:guest@127.0.0.1:1//", "STRANGLER_VAR_DIR": str(tmp_path)}
    argv = python_argv("-m", "tests.chassis.chassis_service", "events", "dlq", "list")
    down = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    assert (down.returncode, down.stderr.count("\n")) == (2, 1)
    assert down.stderr.startswith("events dlq list: broker_unavailable: ")
    with pytest.raises(cli.UsageError, match="no consumer named 'nope'") as unknown:
        dlq("list", "--consumer", "nope")
    assert (unknown.value.code, unknown.value.exit_code) == ("unknown_consumer", 2)


def test_an_event_without_a_digest_dead_lettered_before_the_rolling_upgrade_fix_replays_and_is_processed(
    rabbit, widgets
):
    """Before the follow-up, an event from a publisher not yet upgraded (no digest) was dead-lettered as a
    malformed envelope and its replay failed again; now (EVENT_SIGNATURES off) it is listed under its id and
    a replay processes it."""
    envelope = widget(8)
    doc = envelope.to_dict()
    del doc["digest"]
    with Connection(rabbit.url) as conn:
        worker_on(rabbit, widgets, conn).declare()
        conn.Producer().publish(
            json.dumps(doc).encode(),
            exchange="",
            routing_key=f"{widgets.name}.dlq",
            headers={"x-error": "malformed envelope: missing fields ['digest']", "x-attempts": 1},
            content_type="application/json",
        )
    [letter] = dlq("list", "--consumer", widgets.name)["dead_letters"]
    assert (letter["id"], letter["event_type"]) == (envelope.id, "widget.created")
    assert dlq("replay", "--all", "--consumer", widgets.name)["done"] == [envelope.id]
    consume(rabbit, widgets)
    assert ProcessedEvent.objects.filter(consumer=widgets.name, event_id=envelope.id).exists()
    assert dlq("list", "--consumer", widgets.name)["dead_letters"] == []
