"""Resilience policies of the upstream calls: timeouts, bulkheads, circuit breakers and the fallback rule.

The circuit breaker is our own small state machine rather than a library. Checked: purgatory (asyncio, but
only a consecutive-failure threshold and a TTL, every call goes through an async message bus and unit of
work, and its clock cannot be injected), aiobreaker (unmaintained since 2021, consecutive failures only),
pybreaker and circuitbreaker (synchronous; async support through tornado or a decorator). The gateway
needs a failure-RATE trigger as well as a consecutive one, a bounded number of half-open trial calls,
state-change listeners for metrics, an injectable clock for tests, and a hot path of a few attribute
reads per request. All state lives in one event loop, so no locks are needed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

logger = logging.getLogger(__name__)

# RFC 9110 9.2.2: sending these again has the same effect on the resource as sending them once. After a
# target may already have processed a request (it was sent), only these are re-sent to legacy. A POST
# that is idempotent only through its Idempotency-Key is deduplicated by ONE server: re-sending it to
# another one could apply it twice (two orders), so it falls back only when the target never got it.
RESEND_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class BreakerState(Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def gauge_value(self) -> int:
        """0 closed, 1 half-open, 2 open (the breaker state gauge)."""
        return _GAUGE[self]


_GAUGE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When a breaker opens and how it recovers.

    Opens after `consecutive_failures` failures in a row, or when at least `min_calls` calls finished in the
    last `window` seconds and `failure_rate` of them failed. Stays open `cooldown` seconds, then lets
    `half_open_calls` trial calls through at once: that many successes close it, one failure re-opens it.
    """

    consecutive_failures: int = 5
    failure_rate: float = 0.5
    window: float = 10.0
    min_calls: int = 20
    cooldown: float = 5.0
    half_open_calls: int = 1

    def __post_init__(self) -> None:
        if self.consecutive_failures < 1:
            raise ValueError("breaker consecutive failures must be at least 1")
        if not 0 < self.failure_rate <= 1:
            raise ValueError("breaker failure rate must be in (0, 1]")
        if self.window <= 0 or self.cooldown <= 0:
            raise ValueError("breaker window and cool-down must be positive")
        if self.min_calls < 1 or self.half_open_calls < 1:
            raise ValueError("breaker minimum calls and half-open calls must be at least 1")


class BreakerOpen(Exception):
    """The breaker refused the call; `retry_after` is how long until it lets a trial call through."""

    def __init__(self, upstream: str, retry_after: float) -> None:
        super().__init__(f"the circuit breaker of {upstream} is open")
        self.upstream = upstream
        self.retry_after = retry_after


StateListener = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """One upstream's breaker. Call `acquire()` before a call (raises BreakerOpen), then exactly one of
    `record_success()` / `record_failure()` / `release()` (the call ended with no verdict, e.g. cancelled)."""

    def __init__(
        self,
        name: str,
        config: BreakerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: StateListener | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self._consecutive = 0
        self._outcomes: deque[tuple[float, bool]] = deque()  # (time, failed) in the window
        self._failures_in_window = 0
        self._opened_at = 0.0
        self._trials_in_flight = 0
        self._trial_successes = 0

    # --- the call protocol ---------------------------------------------------------------------------

    def acquire(self) -> None:
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN:
            remaining = self._opened_at + self.config.cooldown - self._clock()
            if remaining > 0:
                raise BreakerOpen(self.name, remaining)
            self._transition(BreakerState.HALF_OPEN)
        if self._trials_in_flight + self._trial_successes >= self.config.half_open_calls:
            raise BreakerOpen(self.name, min(self.config.cooldown, 1.0))
        self._trials_in_flight += 1

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
            self._trial_successes += 1
            if self._trial_successes >= self.config.half_open_calls:
                self._transition(BreakerState.CLOSED)
            return
        if self.state is BreakerState.CLOSED:
            self._consecutive = 0
            self._remember(failed=False)

    def record_failure(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)
            self._open()
            return
        if self.state is BreakerState.CLOSED:
            self._consecutive += 1
            self._remember(failed=True)
            if self._consecutive >= self.config.consecutive_failures or self._rate_exceeded():
                self._open()

    def release(self) -> None:
        """The call ended without telling anything about the upstream (cancelled): free a trial slot."""
        if self.state is BreakerState.HALF_OPEN:
            self._trials_in_flight = max(0, self._trials_in_flight - 1)

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a trial call through (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.config.cooldown - self._clock())

    # --- internals -----------------------------------------------------------------------------------

    def _remember(self, *, failed: bool) -> None:
        now = self._clock()
        outcomes = self._outcomes
        outcomes.append((now, failed))
        self._failures_in_window += failed
        horizon = now - self.config.window
        while outcomes and outcomes[0][0] < horizon:
            _, old_failed = outcomes.popleft()
            self._failures_in_window -= old_failed

    def _rate_exceeded(self) -> bool:
        calls = len(self._outcomes)
        return calls >= self.config.min_calls and self._failures_in_window >= self.config.failure_rate * calls

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._transition(BreakerState.OPEN)

    def _transition(self, new: BreakerState) -> None:
        old, self.state = self.state, new
        self._trials_in_flight = 0
        self._trial_successes = 0
        if new is BreakerState.CLOSED:
            self._consecutive = 0
            self._outcomes.clear()
            self._failures_in_window = 0
        if old is new:
            return
        log = logger.warning if new is BreakerState.OPEN else logger.info
        log("circuit breaker of upstream %s: %s -> %s", self.name, old.value, new.value)
        if self._on_change is not None:
            self._on_change(self.name, old, new)


class BulkheadFull(Exception):
    """No slot freed up within the queue timeout."""

    def __init__(self, upstream: str, limit: int) -> None:
        super().__init__(f"{limit} requests to {upstream} are already in flight")
        self.upstream = upstream
        self.limit = limit


class Bulkhead:
    """At most `limit` calls in flight; a caller over the limit waits up to `queue_timeout` seconds."""

    def __init__(self, name: str, limit: int, queue_timeout: float) -> None:
        self.name = name
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._semaphore = asyncio.Semaphore(limit)

    @property
    def in_flight(self) -> int:
        return self.limit - self._semaphore._value

    async def acquire(self) -> None:
        semaphore = self._semaphore
        if not semaphore.locked():
            await semaphore.acquire()  # a free slot: returns at once
            return
        if self.queue_timeout <= 0:
            raise BulkheadFull(self.name, self.limit)
        try:
            await asyncio.wait_for(semaphore.acquire(), self.queue_timeout)
        except TimeoutError:
            raise BulkheadFull(self.name, self.limit) from None

    def release(self) -> None:
        self._semaphore.release()


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
