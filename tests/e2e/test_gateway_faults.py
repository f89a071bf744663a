"""Fault test through a real gateway: the target of a route is killed mid-traffic and comes back.

The target is a stand-in upstream in its own process (SIGKILL drops every connection, as a crash would);
legacy is a stand-in too, so the test needs no database. While a client loops GETs: idempotent requests
fall back to legacy with no 5xx, the breaker opens (the metrics endpoint shows it) and closes again once
the target is back; a POST with no Idempotency-Key gets a 503 with the gateway's error body.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from strangler_proxy.audit import verify_chain
from tests.strangler_proxy.conftest import (
    REPO,
    StandinUpstream,
    free_port,
    start_gateway,
    write_flags_file,
    write_routes,
)

pytestmark = pytest.mark.e2e

WAIT = 20.0  # generous: the machine is shared and noisy; never used to assert speed

TARGET_SCRIPT = """
import sys, time
from tests.strangler_proxy.conftest import StandinUpstream
StandinUpstream(name="product", port=int(sys.argv[1])).start()
while True:
    time.sleep(60)
"""


class TargetProcess:
    """The route's target: a stand-in upstream in a child process that can be killed and started again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", TARGET_SCRIPT, str(self.port)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        wait_for(lambda: _answers(f"http://127.0.0.1:{self.port}/ready"), "the target to answer")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def wait_for(condition, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def breaker_state(metrics_url: str, route: str, upstream: str) -> float | None:
    text = requests.get(metrics_url, timeout=5).text
    for family in text_string_to_metric_families(text):
        if family.name == "strangler_breaker_state":
            for sample in family.samples:
                if (sample.labels.get("route"), sample.labels.get("upstream")) == (route, upstream):
                    return sample.value
    return None


class Traffic:
    """A client looping idempotent GETs through the gateway (bounded in count and time)."""

    def __init__(self, url: str, limit: int = 20000, seconds: float = 90.0) -> None:
        self.url = url
        self.limit, self.seconds = limit, seconds
        self.answers: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        session = requests.Session()
        deadline = time.monotonic() + self.seconds
        number = 0
        while not self._stop.is_set() and number < self.limit and time.monotonic() < deadline:
            number += 1
            try:
                response = session.get(f"{self.url}/api/v1/catalog/products/{number % 50}", timeout=10)
                self.answers.append((response.status_code, response.headers.get("X-Strangler-Upstream", "")))
            except requests.RequestException as exc:  # a dropped client connection counts as a failure
                self.answers.append((599, type(exc).__name__))
            time.sleep(0.005)

    def served_by(self, upstream: str) -> int:
        return sum(1 for _, served in list(self.answers) if served == upstream)


def test_killing_the_target_mid_traffic_falls_back_opens_and_recloses_the_breaker(tmp_path: Path):
    legacy = StandinUpstream(name="legacy").start()
    target = TargetProcess(free_port())
    target.start()
    metrics_port = free_port()
    audit_log = tmp_path / "audit" / "gateway.jsonl"
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"""
upstreams:
  legacy: {legacy.url}
  product: http://127.0.0.1:{target.port}
defaults: {{legacy: legacy, timeout: 10, bulkhead: 50}}
routes:
  - id: catalog.read
    methods: [GET, HEAD]
    path: ^/api/v1/catalog/.*$
    legacy: legacy
    target: product
    flag: route.catalog.read
    fallback: true
    timeout: 3
  - id: orders.write
    path: ^/api/v1/orders/.*$
    legacy: legacy
    target: product
    flag: route.orders.write
    fallback: true
    timeout: 3
""",
    )
    flags = write_flags_file(
        tmp_path / "flags.json", enabled={"route.catalog.read": True, "route.orders.write": True}
    )
    gateway = start_gateway(
        log_path=tmp_path / "gateway.log",
        routes_yaml=routes,
        flags_file=flags,
        legacy_url=legacy.url,
        extra_args=[
            "--set", f"strangler_metrics_port={metrics_port}",
            "--set", f"strangler_audit_log={audit_log}",
            "--set", "strangler_breaker_failures=3",
            "--set", "strangler_breaker_cooldown=1",
        ],
    )  # fmt: skip
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        with Traffic(gateway.url) as traffic:
            wait_for(lambda: traffic.served_by("product") >= 20, "traffic to reach the target")

            target.kill()
            wait_for(lambda: breaker_state(metrics_url, "catalog.read", "product") == 2, "opening")
            during = traffic.served_by("legacy")
            wait_for(lambda: traffic.served_by("legacy") >= during + 20, "traffic to go on through legacy")

            post = requests.post(
                f"{gateway.url}/api/v1/orders/cart/items", json={"product_id": 1}, timeout=10
            )
            keyed = requests.post(
                f"{gateway.url}/api/v1/orders/checkout",
                json={},
                headers={"Idempotency-Key": "k-1"},
                timeout=10,
            )

            target.start()
            wait_for(lambda: breaker_state(metrics_url, "catalog.read", "product") == 0, "it closing")
            back = traffic.served_by("product")
            wait_for(lambda: traffic.served_by("product") >= back + 20, "traffic to return to the target")
    finally:
        gateway.stop()
        target.kill()
        legacy.stop()

    statuses = Counter(status for status, _ in traffic.answers)
    assert all(status < 500 for status in statuses), (
        f"5xx during the outage: {statuses}\n{gateway.log()[-3000:]}"
    )
    assert post.status_code == 503
    body = post.json()
    assert body["code"] == "upstream_unavailable"
    assert body["extra"]["upstream"] == "product"
    assert body["extra"]["reason"] in {"breaker_open", "connect_failed"}
    assert post.headers["X-Request-ID"]
    assert not [r for r in legacy.received if r.path == "/api/v1/orders/cart/items"]
    assert keyed.status_code == 200  # an Idempotency-Key request the target never got goes to legacy
    assert keyed.headers["X-Strangler-Upstream"] == "legacy"

    verification = verify_chain(audit_log)
    assert verification.ok, verification.reason
    assert verification.entries >= len(traffic.answers)
