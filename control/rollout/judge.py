"""The canary judge: the target's window against legacy's over the same time -> promote, hold or roll back,
with the numbers behind the answer. Pure: the controller gathers the figures and acts on the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from control.rollout.policy import JudgePolicy
from control.rollout.stats import error_rate_test, mann_whitney_binned

PROMOTE, HOLD, ROLLBACK = "promote", "hold", "rollback"
MIN_LATENCY_SAMPLES = 20  # per side, before the U test's normal approximation is trusted


@dataclass(frozen=True)
class Side:
    """One upstream's requests on the route within the window (as the flag chose it, fallbacks included)."""

    requests: int = 0
    errors: int = 0  # 5xx + timeouts + transport errors
    outcomes: dict[str, int] = field(default_factory=dict)  # ok, 5xx, timeout, error
    buckets: tuple[float, ...] = ()  # per-bucket latency counts (not cumulative), same bounds both sides

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors": self.errors, "outcomes": dict(self.outcomes)}


@dataclass(frozen=True)
class Window:
    target: Side
    legacy: Side
    bounds: tuple[float, ...]  # latency bucket upper bounds, seconds (+Inf last)
    seconds: float  # how long the window has been open


@dataclass(frozen=True)
class Verdict:
    action: str
    reasons: tuple[str, ...]
    numbers: dict[str, Any]

    @property
    def summary(self) -> str:
        return f"{self.action}: " + "; ".join(self.reasons)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.1f} ms"


def judge(window: Window, policy: JudgePolicy, *, alpha_per_look: float, step_time: float) -> Verdict:
    target, legacy = window.target, window.legacy
    numbers: dict[str, Any] = {
        "window_seconds": round(window.seconds, 3),
        "alpha_per_look": alpha_per_look,
        "target": target.to_dict(),
        "legacy": legacy.to_dict(),
    }
    rollback: list[str] = []

    errors = error_rate_test(target.errors, target.requests, legacy.errors, legacy.requests)
    numbers["error_rate"] = {
        "target": round(errors.target_rate, 6),
        "legacy": round(errors.legacy_rate, 6),
        "p_value": errors.p_value,
        "max_increase": policy.max_error_increase,
    }
    if errors.p_value < alpha_per_look and errors.increase > policy.max_error_increase:
        rollback.append(
            f"error rate {_pct(errors.target_rate)} ({target.errors}/{target.requests}) vs legacy "
            f"{_pct(errors.legacy_rate)} ({legacy.errors}/{legacy.requests}): +{_pct(errors.increase)} "
            f"> {_pct(policy.max_error_increase)} allowed, p={errors.p_value:.2g} < {alpha_per_look:.2g}"
        )

    shift = None
    if min(sum(target.buckets), sum(legacy.buckets)) >= MIN_LATENCY_SAMPLES:
        shift = mann_whitney_binned(window.bounds, target.buckets, legacy.buckets)
    if shift is not None:
        allowed = max(policy.max_p50_increase, policy.max_p50_increase_ratio * (shift.legacy_p50 or 0.0))
        numbers["latency"] = {
            "target_p50": shift.target_p50,
            "legacy_p50": shift.legacy_p50,
            "u": shift.u,
            "z": round(shift.z, 4),
            "p_value": shift.p_value,
            "allowed_increase": allowed,
        }
        increase = shift.p50_increase
        if shift.p_value < alpha_per_look and increase is not None and increase > allowed:
            rollback.append(
                f"p50 latency {_ms(shift.target_p50)} vs legacy {_ms(shift.legacy_p50)}: "
                f"+{_ms(increase)} > {_ms(allowed)} allowed, Mann-Whitney p={shift.p_value:.2g} "
                f"< {alpha_per_look:.2g}"
            )
    if rollback:
        return Verdict(ROLLBACK, tuple(rollback), numbers)

    if window.seconds < step_time:
        return Verdict(HOLD, (f"step time not reached ({window.seconds:.1f} s of {step_time:g} s)",), numbers)
    if min(target.requests, legacy.requests) < policy.min_requests:
        return Verdict(
            HOLD,
            (
                f"not enough data yet: target {target.requests} requests, legacy {legacy.requests} "
                f"(need {policy.min_requests} each)",
            ),
            numbers,
        )
    latency = (
        f"p50 {_ms(shift.target_p50)} vs {_ms(shift.legacy_p50)}" if shift is not None else "latency n/a"
    )
    return Verdict(
        PROMOTE,
        (
            f"no regression over {window.seconds:.1f} s: error rate {_pct(errors.target_rate)} vs "
            f"{_pct(errors.legacy_rate)} ({target.requests}/{legacy.requests} requests), {latency}",
        ),
        numbers,
    )
