"""The worker on the services profile: pairs published to a real RabbitMQ (an exchange and queue of this
test's own), compared, stored, acknowledged; the backlog shown by `status` comes from the broker."""

import io
import json
import os
import uuid

import pytest
from django.core.management import call_command
from kombu import Connection
from kombu import Exchange as KombuExchange
from kombu import Queue as KombuQueue

from shadow.backlog import queue_backlog
from shadow.models import PairResult
from shadow.transport import AmqpPublisher, open_reader, parse_queue_url
from tests.shadow.builders import answer, make_pair
from tests.shadow.conftest import shadow_db

BROKER = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")

pytestmark = shadow_db


@pytest.fixture
def amqp_queue_url():
    suffix = uuid.uuid4().hex[:12]
    exchange, queue = f"test.shadow.{suffix}", f"test.shadow.comparator.{suffix}"
    url = f"{BROKER}?shadow_exchange={exchange}&shadow_queue={queue}"
    open_reader(url).close()  # declare and bind the queue before anything is published
    yield url
    with Connection(BROKER) as connection:
        channel = connection.channel()
        KombuQueue(queue, channel=channel).delete()
        KombuExchange(exchange, type="topic", channel=channel).delete()


def test_the_worker_consumes_pairs_from_rabbitmq_and_acknowledges_them(amqp_queue_url):
    publisher = AmqpPublisher(parse_queue_url(amqp_queue_url))
    batch = [make_pair(answer({"n": n}), answer({"n": n if n % 2 else -n})) for n in range(1, 11)]
    for pair in batch:
        publisher.publish(pair)
    publisher.publish(batch[0])  # redelivered by the gateway side, say
    publisher.close()

    out = io.StringIO()
    call_command(
        "shadow", "worker", "--once", "--idle-timeout", "0.5", "--queue", amqp_queue_url, "--json", stdout=out
    )

    result = json.loads(out.getvalue())
    assert (result["received"], result["recorded"], result["duplicates"]) == (11, 10, 1)
    assert (result["matched"], result["mismatched"]) == (6, 5)  # the duplicate of a matching pair included
    assert PairResult.objects.filter(matched=False).count() == 5
    assert queue_backlog(amqp_queue_url).pairs == 0


def test_an_unreachable_broker_is_an_unknown_backlog_not_a_crash():
    backlog = queue_backlog("amqp://guest:guest@127.0.0.1:1//")

    assert backlog.pairs is None
    assert backlog.error.startswith("broker unreachable")
