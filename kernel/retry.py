"""Retry with exponential backoff, full jitter, a cap and the caller's deadline, on tenacity.

Attempt n (1-based) that failed is followed by a sleep drawn uniformly from
[0, min(cap, base * 2**(n-1))] ("full jitter": callers that failed together do not come back together),
until `attempts` attempts were made or the next sleep would end past `deadline` (a `time.monotonic()`
instant: the caller's own budget, e.g. the request's), whichever comes first; then the last exception is
raised as is. Only the exception types in `retry_on` are retried; anything else passes through at once.

    from kernel.retry import retry_call, retrying, backoff_delay

    answer = retry_call(session.get, url, retry_on=(ConnectionError, Timeout), attempts=3, base=0.05,
                        cap=0.5, deadline=time.monotonic() + 2.0)
    for attempt in retrying(retry_on=OSError, attempts=5):   # a block rather than a function
        with attempt:
            publish()
    delay = backoff_delay(failures, base=0.5, cap=30)        # a loop that sleeps by itself
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

Exceptions = type[BaseException] | tuple[type[BaseException], ...]


def backoff_delay(
    attempt: int, *, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """The full-jitter sleep after failed attempt `attempt` (1-based): uniform in
    [0, min(cap, base * 2**(attempt-1))]."""
    return rng() * min(cap, base * 2 ** max(attempt - 1, 0))


class _before_deadline:
    """tenacity stop condition: the sleep about to start would end at or past `deadline`."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.clock() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def retrying(
    *,
    retry_on: Exceptions,
    attempts: int = 5,
    base: float = 0.1,
    cap: float = 5.0,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Any] = time.sleep,
    **options: Any,
) -> Retrying:
    """A tenacity `Retrying` with this module's policy. `options` go to tenacity as they are (e.g.
    `before_sleep`; `reraise=False` to get tenacity's RetryError instead of the last exception)."""
    stop = stop_after_attempt(attempts)
    if deadline is not None:
        stop = stop | _before_deadline(deadline, clock)
    return Retrying(
        stop=stop,
        wait=wait_random_exponential(multiplier=base, max=cap),
        retry=retry_if_exception_type(retry_on),
        sleep=sleep,
        **{"reraise": True, **options},
    )


def retry_call[T](
    fn: Callable[..., T],
    /,
    *args: Any,
    retry_on: Exceptions,
    attempts: int = 5,
    base: float = 0.1,
    cap: float = 5.0,
    deadline: float | None = None,
    **kwargs: Any,
) -> T:
    """`fn(*args, **kwargs)`, retried under this module's policy; its result, or the last exception."""
    return retrying(retry_on=retry_on, attempts=attempts, base=base, cap=cap, deadline=deadline)(
        fn, *args, **kwargs
    )
