"""Rollouts simulated through the real judge, for the false-rollback rate (tests, `make bench-rollback`).

Traffic is drawn per second with a seeded generator: Poisson-like request counts split by the step's
percentage, errors binomial, latencies from a log-normal distribution counted into the gateway's judge
buckets (strangler_route_duration_seconds). The judge, the policy and the alpha split are the controller's
own; only the gateway is simulated, so many thousands of rollouts take seconds."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from control.rollout.judge import PROMOTE, ROLLBACK, Side, Window, judge
from control.rollout.looks import LOOK_EVERY, alpha_per_look, judged_steps, look_alpha, planned_looks
from control.rollout.policy import JudgePolicy

# The gateway's judge buckets (strangler_proxy.metrics.JUDGE_BUCKETS; a test keeps the two equal).
BUCKETS = (
    0.001, 0.0015, 0.002, 0.003, 0.004, 0.006, 0.008, 0.012, 0.016, 0.024, 0.032, 0.048, 0.064, 0.096,
    0.128, 0.192, 0.256, 0.384, 0.512, 0.768, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 30.0, math.inf,
)  # fmt: skip


@dataclass(frozen=True)
class Upstream:
    error_rate: float = 0.005
    p50: float = 0.008  # seconds
    sigma: float = 0.5  # log-normal shape

    def bucket_probabilities(self) -> list[float]:
        def cdf(x: float) -> float:
            if math.isinf(x):
                return 1.0
            return 0.5 * math.erfc(-(math.log(x) - math.log(self.p50)) / (self.sigma * math.sqrt(2)))

        probabilities, previous = [], 0.0
        for bound in BUCKETS:
            value = cdf(bound)
            probabilities.append(max(0.0, value - previous))
            previous = value
        return probabilities


def _multinomial(rng: random.Random, n: int, probabilities: list[float]) -> list[int]:
    counts, left, mass = [], n, 1.0
    for p in probabilities:
        if left <= 0 or mass <= 0:
            counts.append(0)
            continue
        drawn = rng.binomialvariate(left, min(1.0, p / mass)) if p > 0 else 0
        counts.append(drawn)
        left -= drawn
        mass -= p
    counts[-1] += left
    return counts


@dataclass
class SimulatedRun:
    rolled_back: bool
    promoted: bool
    step_percentage: int | None  # where it was rolled back
    seconds: float  # simulated time until the verdict


def simulate_rollout(
    rng: random.Random,
    *,
    legacy: Upstream,
    target: Upstream,
    policy: JudgePolicy,
    steps: list[int],
    step_time: float,
    rate: float,
) -> SimulatedRun:
    """One rollout: each judged step for up to 3x its time, a look every LOOK_EVERY seconds."""
    alpha = alpha_per_look(policy.alpha, steps, step_time)
    planned = planned_looks(step_time)
    legacy_p, target_p = legacy.bucket_probabilities(), target.bucket_probabilities()
    elapsed = 0.0
    for percentage in steps[: judged_steps(steps)]:
        sides = {"t": [0, 0, [0] * len(BUCKETS)], "l": [0, 0, [0] * len(BUCKETS)]}
        for look in range(1, 3 * planned + 1):
            total = max(0, round(rng.gauss(rate * LOOK_EVERY, math.sqrt(rate * LOOK_EVERY))))
            to_target = rng.binomialvariate(total, percentage / 100)
            for key, n, upstream, probabilities in (
                ("t", to_target, target, target_p),
                ("l", total - to_target, legacy, legacy_p),
            ):
                side = sides[key]
                side[0] += n
                side[1] += rng.binomialvariate(n, upstream.error_rate) if n else 0
                for i, count in enumerate(_multinomial(rng, n, probabilities)):
                    side[2][i] += count
            elapsed += LOOK_EVERY
            window = Window(
                target=Side(sides["t"][0], sides["t"][1], {}, tuple(sides["t"][2])),
                legacy=Side(sides["l"][0], sides["l"][1], {}, tuple(sides["l"][2])),
                bounds=BUCKETS,
                seconds=look * LOOK_EVERY,
            )
            verdict = judge(
                window, policy, alpha_per_look=look_alpha(alpha, look, planned), step_time=step_time
            )
            if verdict.action == ROLLBACK:
                return SimulatedRun(True, False, percentage, elapsed)
            if verdict.action == PROMOTE:
                break
        else:
            return SimulatedRun(False, False, None, elapsed)
    return SimulatedRun(False, True, None, elapsed)


def false_rollback_rate(
    runs: int,
    *,
    seed: int,
    rate: float = 100.0,
    step_time: float = 10.0,
    policy: JudgePolicy | None = None,
    within_allowance: bool = False,
) -> tuple[float, int]:
    """(rate, rollbacks) over `runs` healthy rollouts. Healthy: the target behaves as legacy does (each run
    draws its own error rate, median and spread), and only noise separates them. `within_allowance`: a
    harsher model where the target is also somewhat worse, up to half the policy's allowances (the judge's
    alpha bounds only the first case; this one measures how the effect-size rules hold up)."""
    policy = policy or JudgePolicy()
    rng = random.Random(seed)
    rollbacks = 0
    for _ in range(runs):
        legacy = Upstream(
            error_rate=rng.uniform(0.0, 0.01), p50=rng.uniform(0.004, 0.05), sigma=rng.uniform(0.3, 0.7)
        )
        target = legacy
        if within_allowance:
            target = Upstream(
                error_rate=legacy.error_rate + rng.uniform(0, policy.max_error_increase / 2),
                p50=legacy.p50 + rng.uniform(0, policy.max_p50_increase / 2),
                sigma=legacy.sigma,
            )
        run = simulate_rollout(
            rng,
            legacy=legacy,
            target=target,
            policy=policy,
            steps=[1, 5, 25, 50, 100],
            step_time=step_time,
            rate=rate,
        )
        rollbacks += run.rolled_back
    return rollbacks / runs, rollbacks
