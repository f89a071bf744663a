"""A consumer with batch_size > 1 (chassis/consumers.py): the messages at hand applied in one transaction,
with the same outcomes as one at a time: a replay is a duplicate, a failing event is retried or dead-lettered
alone and the batch's other events are applied exactly once. Real RabbitMQ and PostgreSQL."""

import pytest
from django.db import connection
from kombu import Connection

from chassis.models import ProcessedEvent
from tests.chassis.chassis_service import consumers as test_consumers
from tests.chassis.test_consumers import (  # noqa: F401 (widgets: the fixture)
    MAX_ATTEMPTS,
    dead_letters,
    effects,
    publish,
    widget_created,
    widgets,
    worker_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def batched(widgets, monkeypatch):  # noqa: F811 (the fixture)
    monkeypatch.setattr(widgets, "batch_size", 20)
    return widgets


def transactions_of(consumer: str) -> int:
    """How many transactions wrote this consumer's processed-event rows (PostgreSQL's xmin)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT xmin::text) FROM chassis_processed_event WHERE consumer = %s", [consumer]
        )
        return cursor.fetchone()[0]


def test_a_batch_is_applied_in_fewer_transactions_than_events_and_a_replay_in_it_is_a_duplicate(
    rabbit, batched
):
    events = [widget_created() for _ in range(10)]
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, batched, conn)
        publish(rabbit, *events, events[0])
        stats = worker.run(once=True, idle_timeout=1.0)
    assert (stats.processed, stats.duplicate, stats.retried) == (10, 1, 0)
    assert effects() == 10
    assert ProcessedEvent.objects.filter(consumer=batched.name).count() == 10
    assert transactions_of(batched.name) < 10


def test_an_event_failing_in_a_batch_is_retried_alone_and_the_others_are_applied_once(rabbit, batched):
    events = [widget_created() for _ in range(5)]
    test_consumers.FAILURES_LEFT[events[2].id] = 2  # fails in the batch, then on its own once
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, batched, conn)
        publish(rabbit, *events)
        stats = worker.run(once=True, idle_timeout=2.0)
        assert dead_letters(conn, batched.name) == []
    assert (stats.processed, stats.retried, stats.dead_lettered) == (5, 1, 0)
    assert effects() == 5  # the failed batch's effects were rolled back, nothing applied twice


def test_a_poison_event_in_a_batch_is_dead_lettered_alone(rabbit, batched):
    events = [widget_created() for _ in range(4)]
    test_consumers.FAILURES_LEFT[events[1].id] = 99
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, batched, conn)
        publish(rabbit, *events)
        stats = worker.run(once=True, idle_timeout=2.0)
        [dead] = dead_letters(conn, batched.name)
    assert (stats.processed, stats.dead_lettered) == (3, 1)
    assert dead.headers["x-attempts"] == MAX_ATTEMPTS
    assert effects() == 3
    assert not ProcessedEvent.objects.filter(event_id=events[1].id).exists()
