"""Chassis test session: settings = the chassis_service (nothing but the chassis) on CHASSIS_DATABASE_URL.

Run as its own session: `pytest --ds=tests.chassis.chassis_service.settings
--confcutdir=tests/chassis tests/chassis` (what `make test` does).
"""

import os
import uuid
from types import SimpleNamespace

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def amqp_url() -> str:
    """The real RabbitMQ (BROKER_URL when it names one)."""
    url = os.environ.get("BROKER_URL", "")
    return url if url.startswith("amqp") else "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture
def rabbit(amqp_url):
    """A unique exchange name for this test; it and every queue listed in `queues` are deleted after."""
    from kombu import Connection, Exchange, Queue

    state = SimpleNamespace(exchange=f"test.events.{uuid.uuid4().hex[:10]}", queues=[], url=amqp_url)
    state.prefix = f"test.{uuid.uuid4().hex[:10]}"
    yield state
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for name in state.queues:
            Queue(name, channel=channel).delete()
        Exchange(state.exchange, type="topic", channel=channel).delete()
