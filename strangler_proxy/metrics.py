"""Metrics addon: Prometheus counters and histograms of the gateway, served on their own port.

The metric objects are module-level (one set per process); the other addons call the `observe_*`
functions at the moment something happens (breaker transition, fallback, 429), and the Metrics addon
counts every finished request from flow.metadata (decision, forward result).

Several worker processes: set PROMETHEUS_MULTIPROC_DIR (an empty directory) in the parent BEFORE anything
imports prometheus_client, so each worker writes its values to files there; serve them once, from the
parent, with `start_metrics_server(port)` (it aggregates the directory) and give the workers
strangler_metrics_port=0; call `mark_worker_dead(pid)` when a worker exits, and empty the directory when
the runner starts. If the workers are given the port anyway, the first one to bind it serves the aggregate
and the others skip serving (a runner worker, STRANGLER_WORKER_ID set, without the directory: the first
one serves only its own counts, with a warning).
"""

from __future__ import annotations

import errno
import logging
import os
import time
from typing import Any

import prometheus_client
from mitmproxy import ctx, exceptions, http
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

from strangler_proxy.override import OVERRIDE_KEY
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY

logger = logging.getLogger(__name__)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("strangler_requests", "Requests answered by the gateway.", ["route", "upstream", "status"])
LATENCY = Histogram(
    "strangler_request_duration_seconds",
    "Time from the request's first byte to the answer, by route and final upstream.",
    ["route", "upstream"],
    buckets=LATENCY_BUCKETS,
)
BREAKER_STATE = Gauge(
    "strangler_breaker_state",
    "Circuit breaker state per route and upstream: 0 closed, 1 half-open, 2 open (the worst live worker).",
    ["route", "upstream"],
    multiprocess_mode="livemax",
)
FLAG_DECISIONS = Counter(
    "strangler_flag_decisions", "Route flag evaluations by outcome.", ["flag", "enabled"]
)
FALLBACKS = Counter(
    "strangler_fallbacks", "Requests re-sent to the fallback upstream.", ["route", "from", "to"]
)
RATE_LIMITED = Counter("strangler_rate_limited", "Requests refused with 429.", ["route"])
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "strangler_rate_limit_backend_errors", "Rate-limit store failures (requests let through)."
)
# The rollout judge's evidence (control/rollout): per route, the upstream the FLAG chose (before any
# fallback), what became of the request there, and the client's latency, in buckets fine enough (x1.5) for a
# rank test. Tester overrides are left out: they are not the canary's sample.
JUDGE_BUCKETS = (
    0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024, 0.032, 0.048, 0.064, 0.096,
    0.128, 0.192, 0.256, 0.384, 0.512, 0.768, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0,
)  # fmt: skip
ROUTE_OUTCOMES = Counter(
    "strangler_route_outcomes",
    "Routed requests by the upstream the flag chose and the outcome there: ok, 5xx, timeout, error "
    "(transport error, breaker open, bulkhead full); a request that fell back counts for the chosen one.",
    ["route", "upstream", "outcome"],
)
ROUTE_LATENCY = Histogram(
    "strangler_route_duration_seconds",
    "Client latency of routed requests by the upstream the flag chose (fallbacks included).",
    ["route", "upstream"],
    buckets=JUDGE_BUCKETS,
)
UPSTREAM_FAILURES = Counter(
    "strangler_upstream_failures", "Failed upstream calls by reason.", ["upstream", "reason"]
)

_children: dict[tuple[Any, ...], Any] = {}  # labels() is a locked lookup; these are hit per request


def child(metric, *labels: str):
    """metric.labels(*labels), remembered (the gateway's other metric modules use it too)."""
    key = (metric, *labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


# --- called by the other addons ----------------------------------------------------------------------------


def observe_breaker_state(route: str, upstream: str, state) -> None:
    child(BREAKER_STATE, route, upstream).set(state.gauge_value)


def observe_fallback(decision, to_upstream: str) -> None:
    child(FALLBACKS, decision.route_id or "default", decision.upstream.name, to_upstream).inc()


def observe_upstream_failure(upstream: str, reason: str | None) -> None:
    child(UPSTREAM_FAILURES, upstream, reason or "unknown").inc()


def observe_rate_limited(route: str | None) -> None:
    child(RATE_LIMITED, route or "default").inc()


def observe_rate_limit_backend_error() -> None:
    RATE_LIMIT_BACKEND_ERRORS.inc()


# --- exposition ---------------------------------------------------------------------------------------------


def exposition_registry() -> CollectorRegistry:
    """What the endpoint serves: this process's registry, or the aggregate of every worker's files."""
    if not MULTIPROCESS:
        return prometheus_client.REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def start_metrics_server(port: int, host: str = "127.0.0.1"):
    """Serve /metrics on host:port from a daemon thread; returns (server, thread). Raises OSError."""
    return prometheus_client.start_http_server(port, addr=host, registry=exposition_registry())


def mark_worker_dead(pid: int) -> None:
    """For the multi-process parent: a worker exited; its live gauges stop counting."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)


def route_outcome(flow: http.HTTPFlow) -> str:
    """ok | 5xx | timeout | error: what the chosen upstream did with the request (see ROUTE_OUTCOMES)."""
    forward = flow.metadata.get(FORWARD_KEY)
    reason = forward.error.split(";", 1)[0] if forward is not None and forward.error else ""
    if reason.startswith("status_"):
        return "5xx" if reason.startswith("status_5") else "ok"
    if reason:
        return "timeout" if reason.endswith("timeout") else "error"
    if flow.response is None:
        return "error"
    return "5xx" if flow.response.status_code >= 500 else "ok"


def flow_labels(flow: http.HTTPFlow) -> tuple[str, str]:
    """(route, upstream) of a finished flow. Answers the gateway gave before routing: ("none", "gateway")."""
    decision = flow.metadata.get(DECISION_KEY)
    if decision is None:
        return "none", "gateway"
    forward = flow.metadata.get(FORWARD_KEY)
    upstream = forward.upstream_name if forward is not None else decision.upstream.name
    return decision.route_id or "default", upstream


class Metrics:
    """Options: strangler_metrics_port (GATEWAY_METRICS_PORT; 0 = no endpoint), strangler_metrics_host."""

    def __init__(self) -> None:
        self._server = None
        self._serving: tuple[str, int] | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_metrics_port",
            int,
            int(os.environ.get("GATEWAY_METRICS_PORT") or 0),
            "Port of the Prometheus endpoint (/metrics); 0 = off.",
        )
        loader.add_option(
            "strangler_metrics_host", str, "127.0.0.1", "Address the Prometheus endpoint listens on."
        )

    def configure(self, updated: set[str]) -> None:
        if not updated & {"strangler_metrics_port", "strangler_metrics_host"}:
            return
        port, host = ctx.options.strangler_metrics_port, ctx.options.strangler_metrics_host
        if not 0 <= port <= 65535:
            raise exceptions.OptionsError(f"strangler_metrics_port={port} is not a port number")
        if self._serving == (host, port):
            return
        self._stop()
        if port == 0:
            return
        try:
            self._server, _ = start_metrics_server(port, host)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and (MULTIPROCESS or os.environ.get("STRANGLER_WORKER_ID")):
                if MULTIPROCESS:
                    logger.info("metrics port %d is served by another worker", port)
                else:
                    logger.warning(
                        "metrics port %d is served by another worker, which shows only its own counts: "
                        "set PROMETHEUS_MULTIPROC_DIR to aggregate the workers",
                        port,
                    )
                return
            raise exceptions.OptionsError(f"cannot serve metrics on {host}:{port}: {exc}") from None
        self._serving = (host, port)
        logger.info("Prometheus metrics on http://%s:%d/metrics", host, port)

    def response(self, flow: http.HTTPFlow) -> None:
        route, upstream = flow_labels(flow)
        child(REQUESTS, route, upstream, str(flow.response.status_code)).inc()
        started = flow.request.timestamp_start
        elapsed = max(0.0, time.time() - started) if started else None
        if elapsed is not None:
            child(LATENCY, route, upstream).observe(elapsed)
        self._count_route(flow, elapsed)
        self._count_flag(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        route, upstream = flow_labels(flow)
        child(REQUESTS, route, upstream, "error").inc()
        self._count_route(flow, None)
        self._count_flag(flow)

    @staticmethod
    def _count_route(flow: http.HTTPFlow, elapsed: float | None) -> None:
        decision = flow.metadata.get(DECISION_KEY)
        if decision is None or decision.route_id is None or flow.metadata.get(OVERRIDE_KEY):
            return
        chosen = decision.upstream.name
        child(ROUTE_OUTCOMES, decision.route_id, chosen, route_outcome(flow)).inc()
        if elapsed is not None:
            child(ROUTE_LATENCY, decision.route_id, chosen).observe(elapsed)

    @staticmethod
    def _count_flag(flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(DECISION_KEY)
        if decision is not None and decision.flag is not None:
            child(FLAG_DECISIONS, decision.flag, "true" if decision.flag_enabled else "false").inc()

    def done(self) -> None:
        self._stop()

    def _stop(self) -> None:
        server, self._server, self._serving = self._server, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
