"""HTTP to a provider: one keep-alive session per thread, (connect, read) timeouts, JSON both ways, and
the failures mapped onto the port's exceptions. Bodies (which may carry a card number) are never logged:
a log line names the provider, the method, the path (provider ids only) and the outcome."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests

from .port import ProviderUnavailable

log = logging.getLogger("extracted.payment_service.providers")
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class ProviderHttp:
    def __init__(self, name: str, base_url: str, *, timeouts: tuple[float, float]):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json: dict | None = None,
        params: dict | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """(status, JSON object) for 2xx-4xx answers; ProviderUnavailable for anything else."""
        headers = {"Accept": "application/json", **headers}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        started = time.monotonic()
        try:
            response = _session().request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=self.timeouts
            )
        except requests.Timeout as exc:
            self._log(method, path, "timeout", started)
            raise ProviderUnavailable(f"{self.name} did not answer in time", timeout=True) from exc
        except requests.RequestException as exc:
            self._log(method, path, "unreachable", started)
            raise ProviderUnavailable(f"{self.name} is unreachable: {type(exc).__name__}") from exc
        self._log(method, path, response.status_code, started)
        if response.status_code >= 500:
            raise ProviderUnavailable(f"{self.name} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"{self.name} answered {response.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"{self.name} answered an unexpected body")
        if response.status_code in (401, 403):
            raise ProviderUnavailable(f"{self.name} refused our credentials ({response.status_code})")
        return response.status_code, body

    def _log(self, method: str, path: str, outcome: Any, started: float) -> None:
        log.info(
            "provider call",
            extra={
                "provider": self.name,
                "method": method,
                "path": path,
                "outcome": outcome,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
