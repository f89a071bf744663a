"""Per-gateway fault-injection knobs, settable while the sandbox runs (`PUT /_sandbox/gateways/<name>`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

OPERATIONS = ("tokenize", "authorize", "capture", "refund", "status", "void")


class KnobError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Knobs:
    """What a gateway does to the requests of the `operations` it applies to.

    latency_ms: added before every request. error_rate: share answered 503 without doing anything.
    timeout_rate: share that is processed, then held `timeout_seconds` before answering (the client times out,
    the gateway has done the work: status lookups find it). decline_rate: share of authorizations declined
    (`do_not_honor`) whatever the card. refund_settle_ms: how long a northpay refund stays pending.
    """

    latency_ms: int = 0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 10.0
    decline_rate: float = 0.0
    operations: tuple[str, ...] = OPERATIONS
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_max_attempts: int = 4
    webhook_retry_delay_ms: int = 200
    webhook_delay_ms: int = 0
    refund_settle_ms: int = 100
    api_key: str = ""
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["operations"] = list(self.operations)
        return data

    def updated(self, changes: dict[str, Any]) -> Knobs:
        """A copy with `changes` applied; every bad value is reported at once (KnobError)."""
        errors: dict[str, str] = {}
        clean: dict[str, Any] = {}
        known = {f.name for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in known:
                errors[name] = "unknown knob"
                continue
            try:
                clean[name] = _CHECKS[name](value)
            except (TypeError, ValueError) as exc:
                errors[name] = str(exc)
        if errors:
            raise KnobError(errors)
        return dataclasses.replace(self, **clean)


def _number(low: float, high: float, *, integer: bool = False):
    def check(value: Any):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError("must be a number")
        if integer and not float(value).is_integer():
            raise ValueError("must be an integer")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return int(value) if integer else float(value)

    return check


def _operations(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError("must be a list of operation names")
    unknown = sorted(set(value) - set(OPERATIONS))
    if unknown:
        raise ValueError(f"unknown operations {unknown}; known: {list(OPERATIONS)}")
    return tuple(value)


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    if value and (urlparse(value).scheme not in {"http", "https"} or not urlparse(value).netloc):
        raise ValueError("must be an http(s) URL or empty")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("must be a string")
    return value


def _seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("must be an integer or null")
    return value


_CHECKS = {
    "latency_ms": _number(0, 120_000, integer=True),
    "error_rate": _number(0, 1),
    "timeout_rate": _number(0, 1),
    "timeout_seconds": _number(0, 300),
    "decline_rate": _number(0, 1),
    "operations": _operations,
    "webhook_url": _url,
    "webhook_secret": _text,
    "webhook_max_attempts": _number(1, 20, integer=True),
    "webhook_retry_delay_ms": _number(0, 60_000, integer=True),
    "webhook_delay_ms": _number(0, 60_000, integer=True),
    "refund_settle_ms": _number(0, 60_000, integer=True),
    "api_key": _text,
    "seed": _seed,
}
