"""The client of a service's internal API (`/internal/v1/...`, bearer INTERNAL_API_TOKEN) for sync jobs.

One pooled keep-alive session; bodies encoded with orjson. Every call the sync jobs make is idempotent
(imports apply the version rule; checksums only read), so connection errors, timeouts and 5xx answers are
retried with exponential backoff and full jitter (kernel.retry) before the job gives up with
TargetUnavailable.
"""

from __future__ import annotations

from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter

from chassis.internal_http import mount_internal_tls
from chassis.tracing import outbound_headers
from kernel.retry import retry_call

from .errors import TargetRefused, TargetUnavailable


class _Retryable(Exception):
    pass


def _internal_tls():
    """settings.INTERNAL_TLS (mutual TLS on https:// service URLs), None without Django settings."""
    from django.conf import settings

    return getattr(settings, "INTERNAL_TLS", None) if settings.configured else None


class InternalApiClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 60.0,
        attempts: int = 5,
        backoff_max: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.attempts = attempts
        self.backoff_max = backoff_max
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0))
        mount_internal_tls(self.session, _internal_tls(), pool_connections=1, pool_maxsize=4, max_retries=0)
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            }
        )

    @classmethod
    def from_settings(cls, **options: Any) -> InternalApiClient:
        from django.conf import settings

        return cls(settings.PRODUCT_SERVICE_URL, settings.INTERNAL_API_TOKEN, **options)

    def post(self, path: str, payload: Any) -> Any:
        return self._call("POST", path, orjson.dumps(payload))

    def get(self, path: str) -> Any:
        return self._call("GET", path, None)

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, body: bytes | None) -> Any:
        url = self.base_url + path
        try:
            response = retry_call(
                self._once,
                method,
                url,
                body,
                retry_on=(_Retryable, requests.ConnectionError, requests.Timeout),
                attempts=self.attempts,
                base=0.2,
                cap=self.backoff_max,
            )
        except (_Retryable, requests.RequestException) as exc:
            raise TargetUnavailable(
                f"{method} {url} failed after {self.attempts} attempts ({type(exc).__name__}: {exc})",
                extra={"url": url},
            ) from exc
        if response.status_code >= 400:
            raise TargetRefused(
                f"{method} {url} answered {response.status_code}: {_error_text(response)}",
                extra={"url": url, "status": response.status_code},
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise TargetUnavailable(f"{method} {url} answered something that is not JSON") from exc

    def _once(self, method: str, url: str, body: bytes | None) -> requests.Response:
        # the trace of the request or event this runs for (a command line run: the service starts one)
        response = self.session.request(
            method, url, data=body, timeout=self.timeout, headers=outbound_headers()
        )
        if response.status_code >= 500:
            raise _Retryable(f"status {response.status_code}")
        return response


def _error_text(response: requests.Response) -> str:
    try:
        body = response.json()
        return f"{body.get('code')}: {body.get('message')}"
    except (ValueError, AttributeError):
        return response.text[:200]
