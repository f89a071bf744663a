"""Tester override through the real gateway: a staff user holding an override minted by
`manage.py rollout override` uses the route's target while its flag is off; a customer presenting the same
value is routed as usual and counted; forced requests are marked in the audit log and left out of the
rollout judge's figures."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bench.rollout_drill import start_toy
from legacy_monolith.demo.processes import free_port, stop_process_group
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

KEY = "tester-override-key-for-the-e2e-test-0123456789"
REPO = Path(__file__).resolve().parents[2]
PRODUCT = "/api/v1/catalog/products/3"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("override")
    legacy, target = start_toy("legacy", tmp / "legacy.log"), start_toy("product", tmp / "product.log")
    metrics_port = free_port()
    env = {
        "FLAGS_FILE": str(write_flags_file(tmp / "flags.json")),
        "MONOLITH_URL": legacy.url,
        "PRODUCT_SERVICE_URL": target.url,
        "TESTER_OVERRIDE_KEY": KEY,
        "GATEWAY_METRICS_PORT": str(metrics_port),
    }
    gateway = start_gateway(
        log_path=tmp / "gateway.log", routes_yaml=DEFAULT_ROUTES, legacy_url=legacy.url, env=env
    )
    yield gateway, f"http://127.0.0.1:{metrics_port}/metrics", tmp
    gateway.stop()
    for toy in (legacy, target):
        stop_process_group(toy.process, 5)


def mint(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", "rollout", "override", *args, "--json"],
        cwd=REPO,
        env={**os.environ, "TESTER_OVERRIDE_KEY": KEY},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)["token"]


def test_a_staff_tester_reaches_the_target_and_a_customer_with_the_same_value_does_not(stack):
    gateway, metrics_url, tmp = stack
    token = mint("catalog.read", "--user", "7", "--ttl", "10m")
    as_staff = requests.get(
        gateway.url + PRODUCT,
        headers={"Authorization": "Token staff-7", "X-Tester-Override": token},
        timeout=5,
    )
    assert as_staff.status_code == 200
    assert as_staff.headers["X-Strangler-Upstream"] == "product"
    assert "x-tester-override" not in {k.lower() for k in as_staff.json().get("headers", {})}
    by_cookie = requests.get(
        gateway.url + PRODUCT,
        headers={"Authorization": "Token staff-7"},
        cookies={"tester_override": token},
        timeout=5,
    )
    assert by_cookie.headers["X-Strangler-Upstream"] == "product"
    as_customer = requests.get(
        gateway.url + PRODUCT,
        headers={"Authorization": "Token user-8", "X-Tester-Override": token},
        timeout=5,
    )
    assert as_customer.headers["X-Strangler-Upstream"] == "legacy"
    another_staff = requests.get(
        gateway.url + PRODUCT,
        headers={"Authorization": "Token staff-9", "X-Tester-Override": token},
        timeout=5,
    )
    assert another_staff.headers["X-Strangler-Upstream"] == "legacy"
    plain = requests.get(gateway.url + PRODUCT, headers={"Authorization": "Token staff-7"}, timeout=5)
    assert plain.headers["X-Strangler-Upstream"] == "legacy"

    metrics = requests.get(metrics_url, timeout=5).text
    assert 'strangler_tester_overrides_total{outcome="honoured",route="catalog.read"} 2.0' in metrics
    assert 'strangler_tester_overrides_total{outcome="ignored_customer",route="catalog.read"} 2.0' in metrics
    # the forced requests are not in the judge's figures: the target got none of the canary's sample
    assert (
        'strangler_route_outcomes_total{outcome="ok",route="catalog.read",upstream="product"}' not in metrics
    )

    time.sleep(0.5)  # the audit writer flushes every 200 ms
    lines = [json.loads(line) for line in (tmp / "gateway.audit.jsonl").read_text().splitlines()]
    forced = [line for line in lines if line.get("mode") == "forced"]
    assert len(forced) == 2
    assert {(line["user"], line["upstream"]) for line in forced} == {("7", "product")}


def test_an_expired_or_forged_override_is_ignored(stack):
    gateway, metrics_url, _tmp = stack
    forged = mint("catalog.read", "--user", "7")[:-4] + "AAAA"
    answer = requests.get(
        gateway.url + PRODUCT,
        headers={"Authorization": "Token staff-7", "X-Tester-Override": forged},
        timeout=5,
    )
    assert answer.headers["X-Strangler-Upstream"] == "legacy"
    assert (
        'strangler_tester_overrides_total{outcome="invalid",route="catalog.read"}'
        in requests.get(metrics_url, timeout=5).text
    )
