"""What the monolith knows of a card gateway: one small interface, its results, and its failures.

Declines are results (ChargeResult.status == "declined"), not exceptions. Transport errors, timeouts and
5xx answers all become GatewayUnavailable. A timed-out or conflicting authorize/capture/refund is
reconciled by looking the idempotency key up at the gateway before it is called a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Any

import requests
from django.conf import settings

from .types import (
    CardDetails,
    CardRejected,
    CardToken,
    ChargeResult,
    GatewayEvent,
    GatewayRejected,
    GatewayUnavailable,
    InvalidEvent,
    RefundResult,
    from_minor,
    to_minor,
)

__all__ = [
    "CardDetails",
    "CardRejected",
    "CardToken",
    "ChargeResult",
    "GatewayClient",
    "GatewayEvent",
    "GatewayRejected",
    "GatewayUnavailable",
    "InvalidEvent",
    "RefundResult",
    "from_minor",
    "to_minor",
]

log = logging.getLogger("legacy_monolith.payments.gateways")

_sessions = threading.local()


def _session() -> requests.Session:
    """One keep-alive session per thread (requests.Session is not documented as thread-safe)."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


class GatewayClient:
    """One external card gateway. Subclasses translate between the monolith's terms and the gateway's API."""

    name = "gateway"

    def __init__(self, base_url: str, api_key: str):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    # --- the interface ---------------------------------------------------------------------------------
    def tokenize(self, card: CardDetails) -> CardToken:
        raise NotImplementedError

    def status(self, *, charge_ref: str) -> ChargeResult:
        raise NotImplementedError

    def lookup(self, *, idempotency_key: str) -> ChargeResult | RefundResult | None:
        """What the request sent with this idempotency key did, or None when the gateway never saw it."""
        raise NotImplementedError

    def parse_event(self, payload: dict[str, Any]) -> GatewayEvent:
        raise NotImplementedError

    def authorize(
        self, *, token: str, amount: Decimal, currency: str, reference: str, idempotency_key: str
    ) -> ChargeResult:
        return self._reconciled(
            lambda: self._authorize(token, amount, currency, reference, idempotency_key), idempotency_key
        )

    def capture(
        self, *, charge_ref: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> ChargeResult:
        return self._reconciled(
            lambda: self._capture(charge_ref, amount, currency, idempotency_key), idempotency_key
        )

    def refund(
        self,
        *,
        charge_ref: str,
        amount: Decimal,
        currency: str,
        reference: str,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult:
        return self._reconciled(
            lambda: self._refund(charge_ref, amount, currency, reference, reason, idempotency_key),
            idempotency_key,
        )

    # --- per gateway ----------------------------------------------------------------------------------
    def _authorize(self, token, amount, currency, reference, idempotency_key) -> ChargeResult:
        raise NotImplementedError

    def _capture(self, charge_ref, amount, currency, idempotency_key) -> ChargeResult:
        raise NotImplementedError

    def _refund(self, charge_ref, amount, currency, reference, reason, idempotency_key) -> RefundResult:
        raise NotImplementedError

    def _auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    # --- plumbing -------------------------------------------------------------------------------------
    def _reconciled(self, call, idempotency_key: str):
        """Run a money-moving call; on a timeout or an idempotency conflict ask the gateway what that key
        did. Our keys are derived from our own payment or refund, so an earlier result under the same key is
        ours to adopt."""
        try:
            return call()
        except GatewayUnavailable as exc:
            if not exc.timeout:
                raise
            found = self.lookup(idempotency_key=idempotency_key)
            if found is None:
                raise
            log.warning("gateway call timed out; reconciled by idempotency key", extra={"gateway": self.name})
            return found
        except GatewayRejected as exc:
            if not exc.idempotency_conflict:
                raise
            found = self.lookup(idempotency_key=idempotency_key)
            if found is None:
                raise
            return found

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict | None = None,
        idempotency_key: str | None = None,
        params: dict | None = None,
    ) -> tuple[int, dict]:
        """One HTTP call with (connect, read) timeouts. Returns (status, JSON body) for 2xx-4xx answers."""
        headers = {"Accept": "application/json", **self._auth_headers()}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        timeout = (settings.PAYMENT_CONNECT_TIMEOUT, settings.PAYMENT_READ_TIMEOUT)
        started = time.monotonic()
        try:
            response = _session().request(
                method, self.base_url + path, json=json, params=params, headers=headers, timeout=timeout
            )
        except requests.Timeout as exc:
            self._log(method, path, "timeout", started)
            raise GatewayUnavailable(f"{self.name} did not answer in time", timeout=True) from exc
        except requests.RequestException as exc:
            self._log(method, path, "unreachable", started)
            raise GatewayUnavailable(f"{self.name} is unreachable: {type(exc).__name__}") from exc
        self._log(method, path, response.status_code, started)
        if response.status_code >= 500:
            raise GatewayUnavailable(f"{self.name} answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise GatewayUnavailable(f"{self.name} answered {response.status_code} without JSON") from exc
        if not isinstance(body, dict):
            raise GatewayUnavailable(f"{self.name} answered an unexpected body")
        if response.status_code in (401, 403):
            raise GatewayUnavailable(f"{self.name} refused our credentials ({response.status_code})")
        return response.status_code, body

    def _log(self, method: str, path: str, outcome: Any, started: float) -> None:
        # The path holds only gateway ids; bodies (which may carry a card number) are never logged.
        log.info(
            "gateway call",
            extra={
                "gateway": self.name,
                "method": method,
                "path": path,
                "outcome": outcome,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
