"""The judge's verdicts on crafted windows, and its false-rollback rate over many seeded healthy rollouts
(simulated gateway, real judge, policy and alpha split)."""

import math
import random

import pytest

from control.rollout.judge import HOLD, PROMOTE, ROLLBACK, Side, Window, judge
from control.rollout.looks import alpha_per_look, look_alpha
from control.rollout.policy import JudgePolicy
from control.rollout.simulation import BUCKETS, Upstream, false_rollback_rate, simulate_rollout
from strangler_proxy.metrics import JUDGE_BUCKETS

POLICY = JudgePolicy(min_requests=50)
ALPHA = alpha_per_look(POLICY.alpha, [1, 5, 25, 50, 100], 30)


def side(requests, errors, p50_bucket):
    buckets = [0] * len(BUCKETS)
    buckets[p50_bucket] = requests
    return Side(
        requests=requests,
        errors=errors,
        outcomes={"ok": requests - errors, "5xx": errors},
        buckets=tuple(buckets),
    )


def window(target, legacy, seconds=31.0):
    return Window(target=target, legacy=legacy, bounds=BUCKETS, seconds=seconds)


def test_the_simulation_uses_the_gateways_buckets():
    assert BUCKETS[:-1] == JUDGE_BUCKETS
    assert math.isinf(BUCKETS[-1])


def test_a_canary_failing_alone_is_rolled_back_with_the_numbers():
    verdict = judge(
        window(side(200, 10, 6), side(600, 0, 6), 4.0), POLICY, alpha_per_look=ALPHA, step_time=30
    )
    assert verdict.action == ROLLBACK
    assert "error rate 5.00% (10/200) vs legacy 0.00% (0/600)" in verdict.reasons[0]
    assert verdict.numbers["error_rate"]["p_value"] == pytest.approx(0.25**10)


def test_a_slower_canary_is_rolled_back():
    verdict = judge(
        window(side(100, 0, 14), side(300, 0, 6), 5.0), POLICY, alpha_per_look=ALPHA, step_time=30
    )
    assert verdict.action == ROLLBACK
    assert verdict.reasons[0].startswith("p50 latency")


def test_a_small_significant_difference_below_the_allowance_is_not_a_regression():
    # 0.6% vs 0.1% on large samples: significant, but +0.5 points < the 1 point allowed
    verdict = judge(
        window(side(20000, 120, 6), side(60000, 60, 6)), POLICY, alpha_per_look=ALPHA, step_time=30
    )
    assert verdict.action == PROMOTE


def test_it_holds_until_the_step_time_and_the_minimum_data():
    early = judge(window(side(500, 0, 6), side(1500, 0, 6), 10.0), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert early.action == HOLD
    assert "step time not reached" in early.reasons[0]
    thin = judge(window(side(12, 0, 6), side(1500, 0, 6)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert thin.action == HOLD
    assert "need 50 each" in thin.reasons[0]


def test_a_healthy_step_is_promoted():
    verdict = judge(window(side(500, 1, 6), side(1500, 3, 6)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert verdict.action == PROMOTE


def test_looks_past_the_step_time_spend_a_shrinking_share():
    share, planned = 0.001, 30
    extra = sum(look_alpha(share, planned + k, planned) for k in range(1, 10_000))
    assert extra <= share
    assert look_alpha(share, 5, planned) == share


def test_healthy_rollouts_are_rolled_back_in_at_most_one_percent_of_seeded_runs(record_property):
    rate, rollbacks = false_rollback_rate(300, seed=20261207, rate=100, step_time=10)
    record_property("false_rollback_rate", rate)
    assert rate <= 0.01, f"{rollbacks} of 300 healthy rollouts were rolled back"


@pytest.mark.parametrize(
    ("target", "why"),
    [(Upstream(error_rate=0.05, p50=0.005), "error rate"), (Upstream(error_rate=0.0, p50=0.055), "p50")],
)
def test_regressions_are_caught_in_seconds_at_fifty_canary_requests_per_second(target, why):
    rng = random.Random(7)
    run = simulate_rollout(
        rng,
        legacy=Upstream(error_rate=0.0, p50=0.005),
        target=target,
        policy=POLICY,
        steps=[25, 50, 100],
        step_time=30,
        rate=200,
    )
    assert run.rolled_back
    assert run.step_percentage == 25
    assert run.seconds <= 6, why
