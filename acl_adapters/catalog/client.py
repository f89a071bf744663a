"""The catalog client the monolith reads products and categories through when the flag
`monolith.catalog.read_from_service` is on.

It calls the Product service's /api/v1 catalog (the same contract the monolith serves) and hands back
unsaved monolith instances (through the translators), so the monolith's own serializers and paginator
render the answer byte for byte as before. Resilience: pooled keep-alive connections, connect/read
timeouts, retries with exponential backoff and full jitter bounded by a per-read deadline (kernel.retry;
reads only, they are idempotent), and the gateway's
circuit breaker (strangler_proxy.resilience: a plain state machine, guarded here by a lock because
gunicorn threads share it). pybreaker (synchronous, maintained) would fit as well, but it would be a new
dependency and a second breaker with other rules (consecutive failures only, no failure rate) next to the
gateway's; one breaker, one set of semantics. Whatever goes wrong raises CatalogServiceUnavailable: the
caller falls back to the monolith's tables. A 404 is an answer, not a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chassis.metrics import counter, gauge
from chassis.tracing import outbound_headers
from kernel.resilience import BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker
from kernel.retry import retry_call
from legacy_monolith.catalog.models import Category, Product

from .translate import document_to_product

logger = logging.getLogger(__name__)

# Declared through the chassis' helpers: safe to declare twice, and summed over gunicorn workers when
# PROMETHEUS_MULTIPROC_DIR is set (`chassis.metrics.metrics_text`).
CALLS = counter(
    "acl_catalog_calls_total",
    "Catalog client calls to the product service, by operation and outcome",
    ["operation", "outcome"],  # outcome: ok, not_found, error, breaker_open
)
FALLBACKS = counter(
    "acl_catalog_fallbacks_total",
    "Catalog reads answered from the monolith's own tables because the service could not answer",
    ["operation"],
)
BREAKER_STATE = gauge(
    "acl_catalog_breaker_state",
    "The catalog client's circuit breaker, the worst worker's: 0 closed, 1 half-open, 2 open",
    mode="max",
)


class CatalogServiceUnavailable(Exception):
    """The product service gave no usable answer (down, slow, 5xx, breaker open, unexpected body)."""


class _Retryable(Exception):
    """One attempt failed in a way another attempt may fix (connection, timeout, 5xx)."""


@dataclass(frozen=True)
class CatalogClientConfig:
    base_url: str
    connect_timeout: float = 0.5
    read_timeout: float = 2.0
    attempts: int = 3
    backoff_initial: float = 0.05
    backoff_max: float = 0.5
    # The longest a read may take with its retries: no retry starts a sleep that would end past it.
    deadline_seconds: float = 5.0
    pool_size: int = 16
    breaker: BreakerConfig = field(
        default_factory=lambda: BreakerConfig(consecutive_failures=5, min_calls=20, cooldown=5.0)
    )

    @classmethod
    def from_settings(cls) -> CatalogClientConfig:
        from django.conf import settings

        return cls(
            base_url=settings.PRODUCT_SERVICE_URL,
            connect_timeout=settings.CATALOG_CLIENT_CONNECT_TIMEOUT,
            read_timeout=settings.CATALOG_CLIENT_READ_TIMEOUT,
        )


@dataclass(frozen=True)
class ServicePage:
    """One page of a listing as the service counted it; `items` are unsaved monolith instances."""

    count: int
    items: list[Any]


QueryPairs = Iterable[tuple[str, str]]


def _category_from_json(data: dict[str, Any]) -> Category:
    return Category(id=data["id"], slug=data["slug"], name=data["name"], parent_id=data["parent_id"])


def _product_from_json(data: dict[str, Any]) -> Product:
    """The service renders `in_stock` (derived) and no `version`: drop one, default the other."""
    return document_to_product({key: value for key, value in data.items() if key != "in_stock"})


class CatalogClient:
    def __init__(self, config: CatalogClientConfig, *, session: requests.Session | None = None) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.session = session or requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=config.pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        self.breaker = CircuitBreaker("product", config.breaker, on_change=self._breaker_changed)
        BREAKER_STATE.set(self.breaker.state.gauge_value)

    # --- reads -------------------------------------------------------------------------------------

    def product_get(self, product_id: int) -> Product | None:
        """The active product, or None when the service answers 404."""
        data = self._get_json("product_get", f"/api/v1/catalog/products/{int(product_id)}", ())
        return None if data is None else self._build("product_get", _product_from_json, data)

    def product_page(self, query: QueryPairs) -> ServicePage | None:
        """The page of GET /products the query asks for; None when that page is past the end."""
        return self._page("product_list", "/api/v1/catalog/products", query, _product_from_json)

    def category_page(self, query: QueryPairs) -> ServicePage | None:
        return self._page("category_list", "/api/v1/catalog/categories", query, _category_from_json)

    # --- internals -----------------------------------------------------------------------------------

    def _page(self, operation: str, path: str, query: QueryPairs, build: Callable) -> ServicePage | None:
        data = self._get_json(operation, path, query)
        if data is None:
            return None

        def page(body: dict[str, Any]) -> ServicePage:
            return ServicePage(count=int(body["count"]), items=[build(item) for item in body["results"]])

        return self._build(operation, page, data)

    def _build(self, operation: str, build: Callable, data: Any) -> Any:
        try:
            return build(data)
        except (KeyError, TypeError, ValueError) as exc:
            CALLS.labels(operation, "error").inc()
            raise CatalogServiceUnavailable(
                f"{operation}: unexpected answer from the product service"
            ) from exc

    def _get_json(self, operation: str, path: str, query: QueryPairs) -> Any | None:
        """The decoded 200 body, None for a 404; CatalogServiceUnavailable otherwise."""
        try:
            with self._lock:
                self.breaker.acquire()
        except BreakerOpen as exc:
            CALLS.labels(operation, "breaker_open").inc()
            raise CatalogServiceUnavailable(str(exc)) from exc
        try:
            response = self._get_with_retries(path, list(query))
        except (_Retryable, requests.RequestException) as exc:
            with self._lock:
                self.breaker.record_failure()
            CALLS.labels(operation, "error").inc()
            raise CatalogServiceUnavailable(f"{operation}: {_describe(exc)}") from exc
        with self._lock:
            self.breaker.record_success()
        if response.status_code == 404:
            CALLS.labels(operation, "not_found").inc()
            return None
        if response.status_code != 200:
            # A 4xx the monolith did not give for the same query: a contract mismatch, answer from legacy.
            CALLS.labels(operation, "error").inc()
            logger.warning("product service answered %s to %s", response.status_code, path)
            raise CatalogServiceUnavailable(f"{operation}: status {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            CALLS.labels(operation, "error").inc()
            raise CatalogServiceUnavailable(f"{operation}: the answer is not JSON") from exc
        CALLS.labels(operation, "ok").inc()
        return data

    def _get_with_retries(self, path: str, params: Sequence[tuple[str, str]]) -> requests.Response:
        return retry_call(
            self._get_once,
            path,
            params,
            retry_on=(_Retryable, requests.ConnectionError, requests.Timeout),
            attempts=self.config.attempts,
            base=self.config.backoff_initial,
            cap=self.config.backoff_max,
            deadline=time.monotonic() + self.config.deadline_seconds,
        )

    def _get_once(self, path: str, params: Sequence[tuple[str, str]]) -> requests.Response:
        response = self.session.get(
            self.base_url + path,
            params=params,
            timeout=(self.config.connect_timeout, self.config.read_timeout),
            headers={"Accept": "application/json", **outbound_headers()},  # the request's trace goes on
        )
        if response.status_code >= 500:
            raise _Retryable(f"status {response.status_code}")
        return response

    @staticmethod
    def _breaker_changed(name: str, old: BreakerState, new: BreakerState) -> None:
        BREAKER_STATE.set(new.gauge_value)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def record_fallback(operation: str) -> None:
    FALLBACKS.labels(operation).inc()


_client: CatalogClient | None = None
_client_lock = threading.Lock()


def catalog_client() -> CatalogClient:
    """The process's client (one connection pool and one breaker per process), built on first use."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = CatalogClient(CatalogClientConfig.from_settings())
    return _client


def use_catalog_client(client: CatalogClient | None) -> CatalogClient | None:
    """Replace the process's client (tests; None: rebuilt from settings on next use); returns the previous."""
    global _client
    previous, _client = _client, client
    return previous
