"""/readyz of the Product service: Redis is only its read cache, so a Redis outage leaves it ready."""

import pytest

from legacy_monolith.demo.processes import free_port

pytestmark = pytest.mark.django_db


def test_with_its_redis_down_the_product_service_stays_ready_and_reports_it_degraded(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["degraded"], body["checks"]["database"]) == ("degraded", ["redis"], "ok")
