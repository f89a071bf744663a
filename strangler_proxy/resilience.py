"""The gateway's resilience policies: upstream timeouts, which statuses count as failures, and the fallback
rule. The breaker and the bulkhead themselves are shared mechanisms (kernel.resilience)."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

logger = logging.getLogger(__name__)

# RFC 9110 9.2.2: sending these again has the same effect on the resource as sending them once. After a
# target may already have processed a request (it was sent), only these are re-sent to legacy. A POST
# that is idempotent only through its Idempotency-Key is deduplicated by ONE server: re-sending it to
# another one could apply it twice (two orders), so it falls back only when the target never got it.
RESEND_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """An upstream's connect and read timeouts (seconds; None: only the route's total timeout applies)."""

    connect: float | None = 2.0
    read: float | None = None


_TIMEOUT_ITEM = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)((?::(connect|read)=[0-9.]+)+)$")


def parse_timeouts(spec: str, default: Timeouts) -> Mapping[str, Timeouts]:
    """`legacy:connect=1:read=10,product:connect=0.5` -> {name: Timeouts}; unnamed fields keep `default`.
    Raises ValueError naming the bad item."""
    result: dict[str, Timeouts] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        match = _TIMEOUT_ITEM.match(item)
        if not match:
            raise ValueError(f"bad upstream timeouts item {item!r} (expected NAME:connect=S:read=S)")
        fields = {"connect": default.connect, "read": default.read}
        for pair in match.group(2).strip(":").split(":"):
            key, _, value = pair.partition("=")
            seconds = float(value)
            if seconds <= 0:
                raise ValueError(f"upstream timeouts item {item!r}: {key} must be positive")
            fields[key] = seconds
        result[match.group("name")] = Timeouts(**fields)
    return result


def parse_statuses(spec: str) -> frozenset[int]:
    """`502,503,504` -> the response statuses that count as upstream failures."""
    statuses = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        if not part.isdigit() or not 500 <= int(part) <= 599:
            raise ValueError(f"breaker failure status {part!r} is not a 5xx status")
        statuses.add(int(part))
    return frozenset(statuses)


def may_fall_back(*, method: str, idempotent: bool, reached_target: bool) -> bool:
    """May a request the target failed be answered by the fallback upstream instead?

    Non-idempotent requests never (they get a 503). Idempotent ones (an RFC 9110 idempotent method, or an
    Idempotency-Key) do when the target never got them (breaker open, bulkhead full, connection refused
    or connect timeout); once the target may have processed one, only RFC-idempotent methods are re-sent.
    """
    if not idempotent:
        return False
    return not reached_target or method in RESEND_SAFE_METHODS


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
