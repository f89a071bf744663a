"""Circuit breakers and bulkheads: resilience mechanisms the gateway, the ACL clients and the services share.

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
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

logger = logging.getLogger(__name__)


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

    def adopt(self, state: BreakerState, since: float) -> None:
        """Take on a state that another process's breaker of the same upstream reached at `since` (on this
        breaker's clock): an OPEN newer than ours opens this one until since + cooldown; a CLOSED newer
        than our last opening closes it. Half-open stays each breaker's own business (its trial calls)."""
        if state is BreakerState.OPEN:
            if self.state is BreakerState.OPEN and self._opened_at >= since:
                return
            self._opened_at = since
            self._transition(BreakerState.OPEN)
        elif (
            state is BreakerState.CLOSED
            and self.state is not BreakerState.CLOSED
            and since >= self._opened_at
        ):
            self._transition(BreakerState.CLOSED)

    @property
    def opened_at(self) -> float:
        """When the breaker last opened (its clock; 0 if never)."""
        return self._opened_at

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
