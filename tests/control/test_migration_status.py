"""`manage.py migration status`: the stage states from the flags, the split the gateway observed over the
last minute (the difference of two scrapes of its Prometheus figures), error rate and p99 per upstream,
breaker states, and every area failing on its own. The gateway's metrics endpoint here is a stand-in:
prometheus_client serving the gateway's metric names on a real socket (the browser test runs the real
gateway)."""

import io
import json

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from control.cockpit import cli
from control.cockpit.collect import migration_status
from control.cockpit.gateway import gateway_status
from control.cockpit.stages import STAGES, stage_state
from tests.strangler_proxy.conftest import write_flags_file

PORT = 18231
STAGE = {s.name: s for s in STAGES}
ROUTES = {
    "catalog.read": ("route", "route.catalog.read"),
    "payments.charge": ("shadow", "route.payments.shadow"),
    "payments.read": ("shadow", "route.payments.shadow"),
}


@pytest.mark.parametrize(
    ("stage", "percentages", "state"),
    [
        ("products", {"route.catalog.read": 0}, "not started"),
        ("products", {"route.catalog.read": 25}, "rolling out 25%"),
        ("products", {"route.catalog.read": 100}, "done"),
        ("products", {"route.catalog.read": None}, "unknown"),
        ("payments", {"route.payments.shadow": 100, "route.payments.charge": 0}, "shadow"),
        ("payments", {"route.payments.shadow": 100, "route.payments.charge": 5}, "rolling out 5%"),
        ("payments", {"route.payments.shadow": 0, "route.payments.charge": 0}, "not started"),
    ],
)
def test_a_stage_state_follows_from_its_flags(stage, percentages, state):
    assert stage_state(ROUTES, percentages, STAGE[stage]) == state


class StandInGateway:
    """The gateway's judge metrics (same names and labels) served by prometheus_client."""

    def __init__(self, port: int) -> None:
        self.registry = CollectorRegistry()
        self.outcomes = Counter(
            "strangler_route_outcomes", "", ["route", "upstream", "outcome"], registry=self.registry
        )
        self.latency = Histogram(
            "strangler_route_duration_seconds",
            "",
            ["route", "upstream"],
            buckets=(0.01, 0.1, 1.0),
            registry=self.registry,
        )
        self.breaker = Gauge("strangler_breaker_state", "", ["route", "upstream"], registry=self.registry)
        self.server, self.thread = start_http_server(port, addr="127.0.0.1", registry=self.registry)

    def serve(self, route: str, upstream: str, n: int, *, outcome="ok", seconds=0.005) -> None:
        self.outcomes.labels(route, upstream, outcome).inc(n)
        for _ in range(n):
            self.latency.labels(route, upstream).observe(seconds)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def gateway(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_METRICS_URLS", f"http://127.0.0.1:{PORT}/metrics")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    stand_in = StandInGateway(PORT)
    yield stand_in
    stand_in.stop()


def test_the_split_is_what_the_gateway_served_since_the_snapshot_a_minute_ago(gateway):
    gateway.serve("catalog.read", "legacy", 500)  # long ago: before the window
    gateway_status(now=1000.0)
    gateway.serve("catalog.read", "legacy", 75)
    gateway.serve("catalog.read", "product", 20, seconds=0.05)
    gateway.serve("catalog.read", "product", 5, outcome="5xx", seconds=0.5)
    gateway.breaker.labels("catalog.read", "product").set(2)

    status = gateway_status(now=1040.0)

    assert status["window_seconds"] == 40.0
    assert status["routes"]["catalog.read"]["requests"] == {"legacy": 75, "product": 25}
    assert status["routes"]["catalog.read"]["share"] == {"legacy": 0.75, "product": 0.25}
    product = status["upstreams"]["product"]
    assert (product["requests"], product["errors"], product["error_rate"]) == (25, 5, 0.2)
    assert 100 < product["p99_ms"] <= 1000  # the slow 5xx answers are the top 20%
    assert status["upstreams"]["legacy"]["error_rate"] == 0.0
    assert status["breakers"]["catalog.read"] == {"product": "open"}
    assert status["series"][-1] == {"t": 1040.0, "routes": {"catalog.read": {"legacy": 75, "product": 25}}}


def test_a_snapshot_older_than_the_window_is_not_the_baseline(gateway):
    gateway_status(now=1000.0)
    gateway.serve("orders.read", "legacy", 10)
    gateway_status(now=1030.0)
    gateway.serve("orders.read", "orders", 4)

    status = gateway_status(now=1070.0)  # 1000 is 70 s old: the baseline is 1030

    assert status["window_seconds"] == 40.0
    assert status["routes"]["orders.read"]["requests"] == {"legacy": 0, "orders": 4}


def test_each_area_that_cannot_be_read_says_so_and_the_rest_still_renders(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_METRICS_URLS", f"http://127.0.0.1:{PORT + 1}/metrics")  # nobody listens
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    monkeypatch.setenv(
        "FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json", enabled={"route.catalog.read": True}))
    )
    monkeypatch.setenv("ORDER_METRICS_URLS", f"http://127.0.0.1:{PORT + 2}/metrics")

    status = migration_status()

    areas = status["areas"]
    assert areas["flags"]["ok"]
    assert not areas["gateway"]["ok"]
    assert f"127.0.0.1:{PORT + 1}" in areas["gateway"]["error"]
    assert not areas["sagas"]["ok"]
    assert "the Order service does not answer" in areas["sagas"]["error"]
    products = next(s for s in status["stages"] if s["name"] == "products")
    assert products["state"] == "done"
    assert products["routes"][0]["percentage"] == 100
    out = io.StringIO()
    assert cli.run({"command": "status", "json": False, "watch": False}, out=out) == 0
    text = out.getvalue()
    assert "stage 2: catalog reads to the Product service — done" in text
    assert "gateway metrics unavailable: EvidenceUnavailable" in text
    assert "sagas: unavailable: SagaEvidenceAbsent" in text
    out = io.StringIO()
    cli.run({"command": "status", "json": True, "watch": False}, out=out)
    assert json.loads(out.getvalue())["stages"][1]["state"] == "done"
