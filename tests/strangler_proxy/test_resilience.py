"""Circuit breaker transitions (on a fake clock), bulkhead limits, and the parsing/fallback tables."""

import asyncio

import pytest

from kernel.resilience import (
    BreakerConfig,
    BreakerOpen,
    BreakerState,
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
)
from strangler_proxy.resilience import (
    Timeouts,
    may_fall_back,
    parse_statuses,
    parse_timeouts,
    retry_after_header,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_breaker(clock, changes=None, **config) -> CircuitBreaker:
    defaults = {"consecutive_failures": 3, "min_calls": 100, "cooldown": 5.0, "half_open_calls": 1}
    return CircuitBreaker(
        "product",
        BreakerConfig(**{**defaults, **config}),
        clock=clock,
        on_change=(lambda name, old, new: changes.append((name, old.value, new.value)))
        if changes is not None
        else None,
    )


def call(breaker: CircuitBreaker, *, ok: bool) -> None:
    breaker.acquire()
    if ok:
        breaker.record_success()
    else:
        breaker.record_failure()


def test_breaker_opens_after_consecutive_failures_and_refuses_calls(clock):
    changes = []
    breaker = make_breaker(clock, changes)
    call(breaker, ok=False)
    call(breaker, ok=False)
    assert breaker.state is BreakerState.CLOSED
    call(breaker, ok=False)
    assert breaker.state is BreakerState.OPEN
    assert changes == [("product", "closed", "open")]
    with pytest.raises(BreakerOpen) as refused:
        breaker.acquire()
    assert refused.value.retry_after == pytest.approx(5.0)


def test_a_success_resets_the_consecutive_failure_count(clock):
    breaker = make_breaker(clock)
    for _ in range(5):
        call(breaker, ok=False)
        call(breaker, ok=False)
        call(breaker, ok=True)
    assert breaker.state is BreakerState.CLOSED


def test_breaker_opens_on_the_failure_rate_in_the_window(clock):
    breaker = make_breaker(clock, consecutive_failures=100, min_calls=10, failure_rate=0.5, window=10)
    for _ in range(4):  # 8 calls, half failed: not enough calls yet
        call(breaker, ok=True)
        call(breaker, ok=False)
    assert breaker.state is BreakerState.CLOSED
    call(breaker, ok=True)
    call(breaker, ok=False)  # 10 calls, 5 failed
    assert breaker.state is BreakerState.OPEN


def test_failures_older_than_the_window_do_not_count(clock):
    breaker = make_breaker(clock, consecutive_failures=100, min_calls=10, failure_rate=0.5, window=10)
    for _ in range(9):  # fewer calls than min_calls: the rate does not count yet
        call(breaker, ok=False)
    clock.advance(11)
    for _ in range(8):
        call(breaker, ok=True)
    call(breaker, ok=False)
    call(breaker, ok=False)  # 11 of 19 failed overall, but 2 of the 10 in the window
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cooldown_one_trial_call_closes_the_breaker(clock):
    changes = []
    breaker = make_breaker(clock, changes)
    for _ in range(3):
        call(breaker, ok=False)
    clock.advance(4.9)
    with pytest.raises(BreakerOpen):
        breaker.acquire()
    clock.advance(0.2)
    breaker.acquire()  # the trial call
    assert breaker.state is BreakerState.HALF_OPEN
    with pytest.raises(BreakerOpen):  # only one trial at a time
        breaker.acquire()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    assert [c[2] for c in changes] == ["open", "half_open", "closed"]


def test_a_failed_trial_call_reopens_the_breaker_for_a_new_cooldown(clock):
    breaker = make_breaker(clock)
    for _ in range(3):
        call(breaker, ok=False)
    clock.advance(5.1)
    call(breaker, ok=False)
    assert breaker.state is BreakerState.OPEN
    assert breaker.retry_after() == pytest.approx(5.0)


def test_half_open_needs_every_trial_call_to_succeed(clock):
    breaker = make_breaker(clock, half_open_calls=3)
    for _ in range(3):
        call(breaker, ok=False)
    clock.advance(6)
    for _ in range(3):
        breaker.acquire()
    with pytest.raises(BreakerOpen):
        breaker.acquire()
    breaker.record_success()
    breaker.record_success()
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_a_cancelled_trial_call_frees_its_slot(clock):
    breaker = make_breaker(clock)
    for _ in range(3):
        call(breaker, ok=False)
    clock.advance(6)
    breaker.acquire()
    breaker.release()
    breaker.acquire()  # the slot is free again
    assert breaker.state is BreakerState.HALF_OPEN


@pytest.mark.parametrize(
    "config",
    [
        {"consecutive_failures": 0},
        {"failure_rate": 0},
        {"failure_rate": 1.5},
        {"window": 0},
        {"cooldown": -1},
        {"min_calls": 0},
        {"half_open_calls": 0},
    ],
)
def test_bad_breaker_configuration_is_refused(config):
    with pytest.raises(ValueError, match="breaker"):
        BreakerConfig(**config)


def test_bulkhead_lets_limit_calls_in_and_refuses_the_next_after_its_queue_timeout():
    async def scenario():
        bulkhead = Bulkhead("catalog->product", 2, queue_timeout=0.05)
        await bulkhead.acquire()
        await bulkhead.acquire()
        assert bulkhead.in_flight == 2
        with pytest.raises(BulkheadFull):
            await bulkhead.acquire()
        bulkhead.release()
        await bulkhead.acquire()  # a freed slot is taken at once
        assert bulkhead.in_flight == 2

    asyncio.run(scenario())


def test_a_waiting_call_gets_the_slot_released_within_its_queue_timeout():
    async def scenario():
        bulkhead = Bulkhead("catalog->product", 1, queue_timeout=5)
        await bulkhead.acquire()
        waiter = asyncio.create_task(bulkhead.acquire())
        await asyncio.sleep(0)
        assert not waiter.done()
        bulkhead.release()
        await asyncio.wait_for(waiter, 5)
        assert bulkhead.in_flight == 1

    asyncio.run(scenario())


def test_concurrent_calls_never_exceed_the_bulkhead():
    async def scenario():
        bulkhead = Bulkhead("b", 3, queue_timeout=5)
        in_flight = peak = 0

        async def work():
            nonlocal in_flight, peak
            await bulkhead.acquire()
            try:
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.001)
                in_flight -= 1
            finally:
                bulkhead.release()

        await asyncio.gather(*(work() for _ in range(30)))
        return peak

    assert asyncio.run(scenario()) == 3


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", {}),
        ("legacy:connect=1:read=10", {"legacy": Timeouts(1.0, 10.0)}),
        ("product:connect=0.5, auth:read=3", {"product": Timeouts(0.5, None), "auth": Timeouts(2.0, 3.0)}),
    ],
)
def test_upstream_timeouts_parse(spec, expected):
    assert parse_timeouts(spec, Timeouts(connect=2.0, read=None)) == expected


@pytest.mark.parametrize(
    "spec", ["legacy", "legacy:connect", "legacy:total=3", "legacy:connect=0", ":read=1"]
)
def test_bad_upstream_timeouts_are_refused(spec):
    with pytest.raises(ValueError, match="upstream timeouts"):
        parse_timeouts(spec, Timeouts())


@pytest.mark.parametrize(
    ("spec", "expected"), [("502,503,504", {502, 503, 504}), ("", set()), ("500", {500})]
)
def test_failure_statuses_parse(spec, expected):
    assert parse_statuses(spec) == expected


@pytest.mark.parametrize("spec", ["404", "abc", "600"])
def test_failure_statuses_must_be_5xx(spec):
    with pytest.raises(ValueError, match="5xx"):
        parse_statuses(spec)


@pytest.mark.parametrize(
    ("method", "idempotent", "reached", "expected"),
    [
        ("GET", True, True, True),
        ("GET", True, False, True),
        ("PUT", True, True, True),
        ("DELETE", True, True, True),
        ("POST", False, False, False),  # no idempotency: never
        ("POST", True, False, True),  # Idempotency-Key, the target never got it
        ("POST", True, True, False),  # Idempotency-Key, the target may have processed it
        ("PATCH", False, False, False),
    ],
)
def test_fallback_policy(method, idempotent, reached, expected):
    assert may_fall_back(method=method, idempotent=idempotent, reached_target=reached) is expected


@pytest.mark.parametrize(("seconds", "header"), [(0, "1"), (0.2, "1"), (1.0, "1"), (1.01, "2"), (4.5, "5")])
def test_retry_after_is_whole_seconds_rounded_up(seconds, header):
    assert retry_after_header(seconds) == header
