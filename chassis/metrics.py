"""Prometheus metrics for services: /metrics, per-route request metrics, and helpers to declare more.

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (before start) so /metrics sums every worker.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

_declared: dict[str, Counter | Gauge | Histogram] = {}
_lock = threading.Lock()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _declare(kind, name: str, documentation: str, labels: Sequence[str], **kwargs):
    with _lock:
        metric = _declared.get(name)
        if metric is None:
            metric = _declared[name] = kind(name, documentation, list(labels), **kwargs)
        elif not isinstance(metric, kind):
            raise ValueError(f"metric {name} is already declared as a {type(metric).__name__}")
        return metric


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A process-wide Counter; declaring the same name again returns the same metric."""
    return _declare(Counter, name, documentation, labels)


def gauge(name: str, documentation: str, labels: Sequence[str] = (), *, mode: str = "livesum") -> Gauge:
    """A Gauge; `mode` says how workers' values combine under multiprocess mode (livesum, max, ...)."""
    return _declare(Gauge, name, documentation, labels, multiprocess_mode=mode)


def histogram(
    name: str, documentation: str, labels: Sequence[str] = (), *, buckets: Sequence[float] = LATENCY_BUCKETS
) -> Histogram:
    return _declare(Histogram, name, documentation, labels, buckets=tuple(buckets))


REQUESTS = counter("http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = histogram("http_request_duration_seconds", "HTTP request latency", ["method", "route"])


def route_label(request: HttpRequest) -> str:
    """The matched URL's name (or pattern), never the raw path: ids in paths would explode the series."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


class MetricsMiddleware:
    """Count every answered request and observe its latency, by route name and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_label(request)
        LATENCY.labels(request.method, route).observe(time.perf_counter() - started)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response


def metrics_text() -> bytes:
    """The exposition text: every worker's samples in multiprocess mode, this process's otherwise."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def metrics_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
