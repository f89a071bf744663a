"""kernel.retry: full-jitter exponential backoff with a cap, bounded by attempts and by the caller's
deadline; only the named exceptions are retried. Sleeps go to a recorder (no waiting, no timing asserts)."""

from __future__ import annotations

import pytest

from kernel.retry import backoff_delay, retry_call, retrying


class Flaky:
    """Fails `failures` times with `error`, then answers "ok"."""

    def __init__(self, failures: int, error: type[BaseException] = ConnectionError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return ("ok", args, kwargs)


class Clock:
    """A monotonic clock that sleeping moves forward."""

    def __init__(self) -> None:
        self.now, self.sleeps = 100.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (30, 1.0)]
)
def test_the_backoff_is_full_jitter_under_a_doubling_ceiling_and_a_cap(attempt, ceiling):
    assert backoff_delay(attempt, base=0.1, cap=1.0, rng=lambda: 0.0) == 0.0
    assert backoff_delay(attempt, base=0.1, cap=1.0, rng=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)
    draws = {backoff_delay(attempt, base=0.1, cap=1.0) for _ in range(50)}
    assert len(draws) > 40  # jittered, not a fixed schedule
    assert all(0 <= d <= ceiling for d in draws)


def test_a_call_that_recovers_returns_its_result_after_jittered_sleeps():
    clock, flaky = Clock(), Flaky(2)
    policy = retrying(retry_on=ConnectionError, attempts=5, base=0.1, cap=1.0, clock=clock, sleep=clock.sleep)
    assert policy(flaky, 1, key="v") == ("ok", (1,), {"key": "v"})
    assert flaky.calls == 3
    assert len(clock.sleeps) == 2
    assert 0 <= clock.sleeps[0] <= 0.1
    assert 0 <= clock.sleeps[1] <= 0.2


def test_the_last_exception_is_raised_once_the_attempts_are_spent():
    clock, flaky = Clock(), Flaky(10)
    with pytest.raises(ConnectionError, match="failure 3"):
        retrying(retry_on=ConnectionError, attempts=3, clock=clock, sleep=clock.sleep)(flaky)
    assert flaky.calls == 3


def test_a_retry_never_sleeps_past_the_callers_deadline():
    clock, flaky = Clock(), Flaky(100)
    deadline = clock.now + 3.0
    with pytest.raises(ConnectionError):
        retrying(
            retry_on=ConnectionError,
            attempts=100,
            base=1.0,
            cap=1.0,
            deadline=deadline,
            clock=clock,
            sleep=clock.sleep,
        )(flaky)
    assert clock.now <= deadline
    assert 2 <= flaky.calls < 100


def test_an_error_that_is_not_named_is_not_retried():
    flaky = Flaky(1, error=ValueError)
    with pytest.raises(ValueError, match="failure 1"):
        retry_call(flaky, retry_on=ConnectionError, attempts=5, base=0.0)
    assert flaky.calls == 1


def test_retry_call_passes_arguments_and_sleeps_for_real_but_briefly():
    flaky = Flaky(2, error=TimeoutError)
    assert retry_call(flaky, "a", retry_on=(ConnectionError, TimeoutError), base=0.001, cap=0.002)[0] == "ok"
    assert flaky.calls == 3


def test_a_block_can_be_retried_and_tenacity_options_pass_through():
    seen, flaky = [], Flaky(1)
    for attempt in retrying(
        retry_on=ConnectionError, base=0.0, before_sleep=lambda state: seen.append(state.attempt_number)
    ):
        with attempt:
            result = flaky()
    assert result[0] == "ok"
    assert seen == [1]
