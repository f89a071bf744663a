"""The Prometheus endpoint: what the Metrics addon counts per request, what the other addons report, the
exposition parsed back, and the multi-process mode the worker runner relies on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
import requests
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow
from prometheus_client.parser import text_string_to_metric_families

from kernel.resilience import BreakerState
from strangler_proxy import metrics
from strangler_proxy.forwarding import ForwardResult
from strangler_proxy.routes import Decision, Upstream
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY
from tests.strangler_proxy.conftest import REPO, free_port

LEGACY = Upstream("legacy", "http", "127.0.0.1", 8000)
PRODUCT = Upstream("product", "http", "127.0.0.1", 8101)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def routed_flow(route_id: str, status: int, *, fallback: bool = False):
    flow = tflow.tflow(resp=True)
    flow.response.status_code = status
    flow.metadata[DECISION_KEY] = Decision(
        route_id, "route", f"route.{route_id}", True, PRODUCT, LEGACY, None, 5.0, 10, True
    )
    final = "legacy" if fallback else "product"
    flow.metadata[FORWARD_KEY] = ForwardResult(final, status, 3.0, fallback, "closed", None)
    return flow


def test_the_endpoint_exposes_requests_latency_flags_breakers_fallbacks_and_429s():
    route = f"r{uuid.uuid4().hex[:8]}"  # labels of this test only: the registry is process-wide
    port = free_port()
    addon = metrics.Metrics()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, strangler_metrics_port=port)
        try:
            addon.response(routed_flow(route, 200))
            addon.response(routed_flow(route, 200))
            addon.response(routed_flow(route, 200, fallback=True))
            refused = tflow.tflow(resp=True)
            refused.response.status_code = 429
            addon.response(refused)
            metrics.observe_breaker_state(route, f"{route}-up", BreakerState.OPEN)
            metrics.observe_fallback(routed_flow(route, 200).metadata[DECISION_KEY], "legacy")
            metrics.observe_rate_limited(route)
            response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        finally:
            addon.done()
    assert response.status_code == 200
    found = samples(response.text)
    labels = (("route", route), ("status", "200"), ("upstream", "product"))
    assert found[("strangler_requests_total", labels)] == 2
    assert (
        found[("strangler_requests_total", (("route", route), ("status", "200"), ("upstream", "legacy")))]
        == 1
    )
    assert (
        found[("strangler_request_duration_seconds_count", (("route", route), ("upstream", "product")))] == 2
    )
    assert found[("strangler_flag_decisions_total", (("enabled", "true"), ("flag", f"route.{route}")))] == 3
    assert found[("strangler_breaker_state", (("route", route), ("upstream", f"{route}-up")))] == 2
    fallback_labels = (("from", "product"), ("route", route), ("to", "legacy"))
    assert found[("strangler_fallbacks_total", fallback_labels)] == 1
    assert found[("strangler_rate_limited_total", (("route", route),))] == 1
    assert (
        found[("strangler_requests_total", (("route", "none"), ("status", "429"), ("upstream", "gateway")))]
        >= 1
    )


def test_the_endpoint_stops_with_the_addon():
    port = free_port()
    addon = metrics.Metrics()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, strangler_metrics_port=port)
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).raise_for_status()
        addon.done()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_bad_or_busy_metrics_port_is_refused_at_start():
    addon = metrics.Metrics()
    with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="not a port"):
        tctx.configure(addon, strangler_metrics_port=70000)
    port = free_port()
    server, _ = metrics.start_metrics_server(port)  # someone else holds the port
    try:
        addon = metrics.Metrics()
        with taddons.context(addon) as tctx, pytest.raises(exceptions.OptionsError, match="cannot serve"):
            tctx.configure(addon, strangler_metrics_port=port)
    finally:
        server.shutdown()
        server.server_close()


def test_port_zero_serves_nothing():
    addon = metrics.Metrics()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, strangler_metrics_port=0)
        assert addon._server is None


WORKER = textwrap.dedent(
    """
    import sys
    from strangler_proxy import metrics
    from kernel.resilience import BreakerState
    metrics.REQUESTS.labels("catalog.read", "product", "200").inc(int(sys.argv[1]))
    metrics.observe_breaker_state("catalog.read", "product", BreakerState[sys.argv[2]])
    """
)
AGGREGATOR = textwrap.dedent(
    """
    from prometheus_client import generate_latest
    from strangler_proxy import metrics
    print(generate_latest(metrics.exposition_registry()).decode())
    """
)


def test_multiprocess_mode_sums_the_workers_counters_and_shows_the_worst_breaker(tmp_path):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    for count, state in ((3, "CLOSED"), (4, "OPEN")):
        subprocess.run([sys.executable, "-c", WORKER, str(count), state], env=env, check=True, cwd=REPO)
    out = subprocess.run(
        [sys.executable, "-c", AGGREGATOR], env=env, check=True, cwd=REPO, capture_output=True, text=True
    ).stdout
    found = samples(out)
    labels = (("route", "catalog.read"), ("status", "200"), ("upstream", "product"))
    assert found[("strangler_requests_total", labels)] == 7
    assert found[("strangler_breaker_state", (("route", "catalog.read"), ("upstream", "product")))] == 2


def test_a_runner_worker_whose_port_another_worker_holds_starts_without_serving(monkeypatch):
    monkeypatch.setenv("STRANGLER_WORKER_ID", "1")
    port = free_port()
    server, _ = metrics.start_metrics_server(port)  # worker 0 serves
    try:
        addon = metrics.Metrics()
        with taddons.context(addon) as tctx:
            tctx.configure(addon, strangler_metrics_port=port)
            assert addon._server is None
    finally:
        server.shutdown()
        server.server_close()
