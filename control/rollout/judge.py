"""The canary judge: the target's window against legacy's over the same time -> promote, hold or roll back,
with the numbers behind the answer. Pure: the controller gathers the figures and acts on the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from control.rollout.policy import JudgePolicy, SagaPolicy
from control.rollout.sagas import SagaWindow
from control.rollout.stats import binomial_sf, error_rate_test, mann_whitney_binned

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
    gateway: bool = True  # False: the flag is read by a service, no gateway figures (saga outcomes only)
    sagas: SagaWindow | None = None  # the stage's saga outcomes, when its policy reads them
    sagas_absent: str = ""  # why there are none (no Order service answering): judged without them


def gateway_less(seconds: float, sagas: SagaWindow | None, absent: str = "") -> Window:
    """The window of a flag the gateway does not route by (payments: the Order service reads it)."""
    return Window(Side(), Side(), (), seconds, gateway=False, sagas=sagas, sagas_absent=absent)


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
    errors = shift = None
    if window.gateway:
        errors, shift = _gateway_tests(window, policy, alpha_per_look, numbers, rollback)
    else:
        numbers["gateway"] = "none: the flag is read by a service, judged by its saga outcomes"
    if policy.saga is not None:
        _saga_tests(window, policy.saga, alpha_per_look, numbers, rollback)
    if rollback:
        return Verdict(ROLLBACK, tuple(rollback), numbers)

    if window.seconds < step_time:
        return Verdict(HOLD, (f"step time not reached ({window.seconds:.1f} s of {step_time:g} s)",), numbers)
    if window.gateway and min(target.requests, legacy.requests) < policy.min_requests:
        return Verdict(
            HOLD,
            (
                f"not enough data yet: target {target.requests} requests, legacy {legacy.requests} "
                f"(need {policy.min_requests} each)",
            ),
            numbers,
        )
    sagas = window.sagas
    if policy.saga is not None and policy.saga.min_sagas and not window.sagas_absent:
        finished = sagas.finished if sagas else 0
        if finished < policy.saga.min_sagas:
            return Verdict(
                HOLD, (f"not enough sagas yet: {finished} finished (need {policy.saga.min_sagas})",), numbers
            )
    said = []
    if window.gateway:
        latency = (
            f"p50 {_ms(shift.target_p50)} vs {_ms(shift.legacy_p50)}" if shift is not None else "latency n/a"
        )
        said.append(
            f"error rate {_pct(errors.target_rate)} vs {_pct(errors.legacy_rate)} "
            f"({target.requests}/{legacy.requests} requests), {latency}"
        )
    if policy.saga is not None:
        said.append(
            f"sagas: {sagas.compensated} of {sagas.finished} compensated, {sagas.stuck} stuck"
            if sagas
            else f"no saga evidence ({window.sagas_absent})"
        )
    return Verdict(PROMOTE, (f"no regression over {window.seconds:.1f} s: " + "; ".join(said),), numbers)


def _gateway_tests(window: Window, policy: JudgePolicy, alpha: float, numbers: dict, rollback: list[str]):
    """The target against legacy at the gateway: error rate (exact binomial), latency (Mann-Whitney U)."""
    target, legacy = window.target, window.legacy
    errors = error_rate_test(target.errors, target.requests, legacy.errors, legacy.requests)
    numbers["error_rate"] = {
        "target": round(errors.target_rate, 6),
        "legacy": round(errors.legacy_rate, 6),
        "p_value": errors.p_value,
        "max_increase": policy.max_error_increase,
    }
    if errors.p_value < alpha and errors.increase > policy.max_error_increase:
        rollback.append(
            f"error rate {_pct(errors.target_rate)} ({target.errors}/{target.requests}) vs legacy "
            f"{_pct(errors.legacy_rate)} ({legacy.errors}/{legacy.requests}): +{_pct(errors.increase)} "
            f"> {_pct(policy.max_error_increase)} allowed, p={errors.p_value:.2g} < {alpha:.2g}"
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
        if shift.p_value < alpha and increase is not None and increase > allowed:
            rollback.append(
                f"p50 latency {_ms(shift.target_p50)} vs legacy {_ms(shift.legacy_p50)}: "
                f"+{_ms(increase)} > {_ms(allowed)} allowed, Mann-Whitney p={shift.p_value:.2g} "
                f"< {alpha:.2g}"
            )
    return errors, shift


def _saga_tests(window: Window, policy: SagaPolicy, alpha: float, numbers: dict, rollback: list[str]) -> None:
    """The stage's saga outcomes: sagas newly stuck past their deadline, and a compensation rate above the
    allowance (one-sided exact binomial test against max_compensated)."""
    sagas = window.sagas
    if sagas is None:
        numbers["saga"] = {"absent": window.sagas_absent or "not read"}
        return
    rate = sagas.compensated / sagas.finished if sagas.finished else 0.0
    p_value = (
        binomial_sf(sagas.compensated, sagas.finished, policy.max_compensated) if sagas.finished else 1.0
    )
    numbers["saga"] = {
        **sagas.to_dict(),
        "compensated_rate": round(rate, 6),
        "p_value": p_value,
        "max_compensated": policy.max_compensated,
        "max_stuck": policy.max_stuck,
    }
    new_stuck = sagas.stuck - sagas.stuck_at_open
    if new_stuck > policy.max_stuck:
        rollback.append(
            f"{new_stuck} more sagas stuck past their deadline ({sagas.stuck} now, {sagas.stuck_at_open} "
            f"when the step began) > {policy.max_stuck} allowed"
        )
    if p_value < alpha and rate > policy.max_compensated:
        rollback.append(
            f"sagas compensated {_pct(rate)} ({sagas.compensated}/{sagas.finished}) > "
            f"{_pct(policy.max_compensated)} allowed, p={p_value:.2g} < {alpha:.2g}"
        )
