"""The client the monolith's checkout reserves and releases stock through once the Product service owns stock
(PRODUCT_STOCK_OWNER=service): the service's `/internal/v1/stock/reserve|release`, bearer INTERNAL_API_TOKEN.

Both calls are idempotent by their reference (`order-<order number>`, the saga's and the service's
`order.*` consumers' convention), so connection errors, timeouts and 5xx answers are retried (capped,
exponential backoff, full jitter, bounded by a deadline) with the same reference: a retry after a reserve
that did land answers the first reservation (200) and takes nothing more. Whatever still fails raises
StockServiceUnavailable; a 409 refusal is an answer (StockRefused), never retried. A release fences its
reference at the service: a reserve of ours that outlived its timeout and lands after it takes nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chassis.internal_http import mount_internal_tls
from chassis.metrics import counter
from chassis.tracing import outbound_headers
from kernel.retry import retry_call

CALLS = counter(
    "acl_stock_calls_total",
    "The monolith's stock calls to the Product service, by operation and outcome",
    ["operation", "outcome"],  # outcome: ok, replay, refused, fenced, not_found, unavailable
)


def stock_reference(order_number: str) -> str:
    """The reference of an order's reservation at the Product service (the saga's convention)."""
    return f"order-{order_number}"


class StockServiceUnavailable(Exception):
    """The Product service gave no usable answer (down, slow, 5xx, refused our token, unexpected body)."""


@dataclass(frozen=True)
class StockRefused(Exception):
    """A 409 (`out_of_stock` with its short lines): nothing was taken."""

    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


class _Retryable(Exception):
    pass


@dataclass(frozen=True)
class StockClientConfig:
    base_url: str
    token: str
    connect_timeout: float = 0.5
    read_timeout: float = 3.0
    attempts: int = 2
    tls: Any = None

    @classmethod
    def from_settings(cls) -> StockClientConfig:
        from django.conf import settings

        return cls(
            base_url=settings.PRODUCT_SERVICE_URL,
            token=settings.INTERNAL_API_TOKEN,
            connect_timeout=settings.STOCK_CLIENT_CONNECT_TIMEOUT,
            read_timeout=settings.STOCK_CLIENT_READ_TIMEOUT,
            attempts=max(1, settings.STOCK_CLIENT_ATTEMPTS),
            tls=getattr(settings, "INTERNAL_TLS", None),
        )


class ProductStockClient:
    def __init__(self, config: StockClientConfig) -> None:
        self.config = config
        self.base_url = config.base_url.rstrip("/")
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=16, max_retries=0))
        mount_internal_tls(self.session, config.tls, pool_connections=1, pool_maxsize=16, max_retries=0)

    def reserve(self, *, reference: str, lines: list[tuple[int, int]]) -> bool:
        """All lines or none; True when this call took the stock, False for a replay of the reference."""
        body = {
            "reference": reference,
            "lines": [{"product_id": p, "quantity": q} for p, q in lines],
            # Only once the service owns stock too (else 503 stock_not_owned): between the monolith's switch
            # and the service's, checkouts take nothing anywhere (the cutover's freeze).
            "require_owner": "service",
        }
        status, payload = self._post("reserve", "/internal/v1/stock/reserve", body)
        if status in (200, 201) and payload.get("status") == "reserved":
            CALLS.labels("reserve", "ok" if status == 201 else "replay").inc()
            return status == 201
        fenced = payload.get("status") == "released" or payload.get("code") == "reservation_conflict"
        if status in (200, 409) and fenced:
            # The reference was released (fenced) before this reserve arrived: nothing is held under it.
            CALLS.labels("reserve", "fenced").inc()
            raise StockServiceUnavailable(f"stock reserve {reference}: the reference was released already")
        if status == 409:
            CALLS.labels("reserve", "refused").inc()
            raise StockRefused(
                str(payload.get("code", "out_of_stock")),
                str(payload.get("message", "")),
                payload.get("extra") or {},
            )
        CALLS.labels("reserve", "unavailable").inc()
        raise StockServiceUnavailable(f"stock reserve answered {status}: {payload.get('code', '')}")

    def release(self, *, reference: str) -> bool:
        """Give the reservation back (once). False when the service holds none under the reference; then
        the reference is fenced there, so a reserve of ours still in flight takes nothing when it lands."""
        body = {"reference": reference, "fence": True}
        status, payload = self._post("release", "/internal/v1/stock/release", body)
        if status == 200:
            CALLS.labels("release", "ok").inc()
            return True
        if status == 404:
            CALLS.labels("release", "not_found").inc()
            return False
        CALLS.labels("release", "unavailable").inc()
        raise StockServiceUnavailable(f"stock release answered {status}: {payload.get('code', '')}")

    def _post(self, operation: str, path: str, body: dict) -> tuple[int, dict]:
        cfg = self.config
        deadline = cfg.attempts * (cfg.connect_timeout + cfg.read_timeout) + 1.0
        try:
            response = retry_call(
                self._once,
                path,
                body,
                retry_on=(_Retryable, requests.ConnectionError, requests.Timeout),
                attempts=cfg.attempts,
                base=0.05,
                cap=0.5,
                deadline=deadline,
            )
        except (_Retryable, requests.RequestException) as exc:
            CALLS.labels(operation, "unavailable").inc()
            raise StockServiceUnavailable(f"stock {operation}: {type(exc).__name__}: {exc}"[:300]) from exc
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            CALLS.labels(operation, "unavailable").inc()
            raise StockServiceUnavailable(
                f"stock {operation} answered {response.status_code} without a JSON object"
            )
        return response.status_code, payload

    def _once(self, path: str, body: dict) -> requests.Response:
        response = self.session.post(
            self.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.config.token}", **outbound_headers()},
            timeout=(self.config.connect_timeout, self.config.read_timeout),
        )
        if response.status_code >= 500:
            raise _Retryable(f"{path} answered {response.status_code}")
        return response


_client: ProductStockClient | None = None
_client_lock = threading.Lock()


def stock_client() -> ProductStockClient:
    """One client per process (pooled keep-alive connections shared by gunicorn's threads)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = ProductStockClient(StockClientConfig.from_settings())
        return _client
