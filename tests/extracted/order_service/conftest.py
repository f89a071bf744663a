"""The Order service's own test session (settings extracted.order_service.settings, database
ORDER_DATABASE_URL): `pytest --ds=extracted.order_service.settings --confcutdir=tests/extracted/order_service
tests/extracted/order_service` (what `make test` runs)."""

from __future__ import annotations

import pytest

from tests.chassis.conftest import amqp_url, rabbit  # noqa: F401 (RabbitMQ fixtures, shared)

from .builders import make_order


@pytest.fixture
def order_factory(db):
    return make_order
