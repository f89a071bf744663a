"""Shadow mode end to end: traffic through a real gateway on a shadow route whose candidate renders one field
differently, a second legacy instance for noise, the comparator worker (`manage.py shadow worker --once`)
on its own throwaway PostgreSQL database, and the JSON report naming exactly that field."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import requests

from legacy_monolith.demo.processes import manage
from tests.e2e.databases import throwaway_database
from tests.strangler_proxy import conftest as gateway_fixtures
from tests.strangler_proxy.conftest import write_flags_file, write_routes

pytestmark = pytest.mark.e2e

# The gateway tests' fixtures: stand-in upstreams and a real gateway process.
make_standin = gateway_fixtures.make_standin
gateway_process = gateway_fixtures.gateway_process

FLAG = "route.catalog.read"
REQUESTS = 40


def product(product_id: int) -> dict:
    return {
        "id": product_id,
        "sku": f"SKU-{product_id:04d}",
        "name": f"Product {product_id}",
        "price": f"{product_id}.50",
        "stock": product_id * 3,
        "category": {"id": 2, "slug": "laptops"},
    }


def legacy_answer(received):
    """The monolith's rendering, plus a value that differs on every answer (noise)."""
    product_id = int(received.path.rsplit("/", 1)[-1])
    return 200, {**product(product_id), "served_by": uuid.uuid4().hex}


def candidate_answer(received):
    """The candidate: the same, except the price rendered as a number (the deliberate difference)."""
    status, document = legacy_answer(received)
    return status, {**document, "price": float(document["price"])}


@pytest.fixture
def shadow_database_url():
    with throwaway_database("shadow_e2e") as url:
        yield url


def test_the_report_names_exactly_the_field_the_candidate_renders_differently(
    make_standin,
    gateway_process,
    tmp_path: Path,
    shadow_database_url,
):
    legacy, secondary, candidate = (
        make_standin("legacy"),
        make_standin("secondary"),
        make_standin("candidate"),
    )
    legacy.responder = secondary.responder = legacy_answer
    candidate.responder = candidate_answer
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"""
upstreams:
  legacy: {legacy.url}
  legacy_b: {secondary.url}
  candidate: {candidate.url}
defaults: {{legacy: legacy, timeout: 10, bulkhead: 20}}
routes:
  - id: catalog.detail
    methods: [GET]
    path: ^/api/v1/catalog/products/[0-9]+$
    target: candidate
    flag: {FLAG}
    mode: shadow
    shadow: {{secondary: legacy_b, timeout: 5}}
""",
    )
    flags = write_flags_file(tmp_path / "flags.json", enabled={FLAG: True})
    queue_url = f"file://{tmp_path / 'shadow-queue'}"
    gateway = gateway_process(routes, flags, {"SHADOW_QUEUE_URL": queue_url}, legacy_url=legacy.url)
    env = {"DATABASE_URL": shadow_database_url, "SHADOW_DATABASE_URL": shadow_database_url}
    manage("migrate", "shadow", "--database", "shadow", "--noinput", env=env)

    session = requests.Session()
    for product_id in range(1, REQUESTS + 1):
        answer = session.get(f"{gateway.url}/api/v1/catalog/products/{product_id}", timeout=5)
        assert answer.status_code == 200
        assert answer.json()["price"] == f"{product_id}.50"  # the client always gets legacy's answer
    received = 0
    for _ in range(20):  # the gateway publishes in the background: the worker runs until all arrived
        worker = manage(
            "shadow", "worker", "--once", "--queue", queue_url, "--idle-timeout", "0.5", "--json", env=env
        )
        received += json.loads(worker.stdout)["received"]
        if received >= REQUESTS:
            break
    report = json.loads(manage("shadow", "report", "--format", "json", env=env).stdout)

    assert received == REQUESTS
    (route,) = [r for r in report["routes"] if r["route"] == "catalog.detail"]
    assert route["samples"] == REQUESTS
    real = [path["path"] for path in route["paths"] if path["real"]]
    assert real == ["body.price"]
    noisy = {path["path"]: path for path in route["paths"] if not path["real"]}
    assert noisy["body.served_by"]["noise_share"] == 1.0  # different on every answer, explained by noise
