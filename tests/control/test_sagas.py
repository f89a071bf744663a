"""Saga outcomes as stage evidence: the Order service's figures parsed from its Prometheus text (the very
metric objects the service declares, rendered by prometheus_client), the window between two readings, the
judge's verdicts on them, and the policy that turns them on (a flag the gateway does not route by becomes
rollable when its route has `saga:`)."""

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from control.errors import FileProblems
from control.rollout.judge import HOLD, PROMOTE, ROLLBACK, Side, Window, gateway_less, judge
from control.rollout.looks import alpha_per_look
from control.rollout.policy import JudgePolicy, SagaPolicy, load_policy
from control.rollout.sagas import (
    SagaCounts,
    SagaEvidenceAbsent,
    SagaFeed,
    SagaWindow,
    parse_saga_counts,
    saga_window,
)
from control.rollout.simulation import BUCKETS
from control.routes_file import load_route_infos
from legacy_monolith.demo.processes import free_port

SAGAS = SagaPolicy(max_compensated=0.2, max_stuck=0, min_sagas=10)
POLICY = JudgePolicy(min_requests=50, saga=SAGAS)
ALPHA = alpha_per_look(POLICY.alpha, [5, 25, 100], 30, POLICY.tests)


def order_service_metrics(completed: int, compensated: int, stuck: int) -> str:
    """What the Order service's /metrics shows, from metrics declared as extracted/order_service/saga/
    metrics.py declares them (same names, labels and kinds)."""
    registry = CollectorRegistry()
    finished = Counter("order_saga_finished_total", "finished", ["outcome"], registry=registry)
    finished.labels("completed").inc(completed)
    finished.labels("compensated").inc(compensated)
    Gauge("order_saga_stuck", "stuck", registry=registry).set(stuck)
    Counter("order_saga_started_total", "started", registry=registry).inc(completed + compensated)
    return generate_latest(registry).decode()


def healthy_side(requests: int) -> Side:
    buckets = [0] * len(BUCKETS)
    buckets[6] = requests
    return Side(requests, 0, {"ok": requests}, tuple(buckets))


def gateway_window(sagas: SagaWindow | None, seconds: float = 31.0, absent: str = "") -> Window:
    return Window(healthy_side(200), healthy_side(600), BUCKETS, seconds, sagas=sagas, sagas_absent=absent)


def test_the_order_services_figures_are_read_and_windowed():
    before = parse_saga_counts(order_service_metrics(10, 2, 0))
    after = parse_saga_counts(order_service_metrics(25, 4, 1))
    assert before == SagaCounts(10.0, 2.0, 0.0)
    assert saga_window(before, after) == SagaWindow(completed=15, compensated=2, stuck=1, stuck_at_open=0)
    assert saga_window(after, before) is None  # the service restarted: a new window
    assert parse_saga_counts("# a gateway, not an Order service\nstrangler_up 1\n") is None


def test_a_stage_without_an_order_service_answering_has_absent_evidence():
    with pytest.raises(SagaEvidenceAbsent, match="does not answer"):
        SagaFeed([f"http://127.0.0.1:{free_port()}/metrics"], timeout=1).snapshot()
    with pytest.raises(SagaEvidenceAbsent, match="no Order service configured"):
        SagaFeed([]).snapshot()


def test_sagas_newly_stuck_past_their_deadline_roll_the_step_back():
    verdict = judge(gateway_window(SagaWindow(20, 1, 3, 1)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert verdict.action == ROLLBACK
    assert verdict.reasons == (
        "2 more sagas stuck past their deadline (3 now, 1 when the step began) > 0 allowed",
    )


def test_a_significant_excess_of_compensated_sagas_rolls_back_a_small_one_does_not():
    many = judge(gateway_window(SagaWindow(10, 30, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert many.action == ROLLBACK
    assert many.reasons[0].startswith("sagas compensated 75.00% (30/40) > 20.00% allowed, p=")
    assert many.numbers["saga"]["compensated_rate"] == 0.75
    few = judge(gateway_window(SagaWindow(7, 3, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert few.action == PROMOTE  # 30% of 10 is not significantly above 20%
    assert "sagas: 3 of 10 compensated, 0 stuck" in few.reasons[0]


def test_a_step_waits_for_min_sagas_and_without_an_order_service_is_judged_on_the_gateway_alone():
    thin = judge(gateway_window(SagaWindow(4, 0, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert (thin.action, thin.reasons) == (HOLD, ("not enough sagas yet: 4 finished (need 10)",))
    absent = judge(
        gateway_window(None, absent="no Order service configured"), POLICY, alpha_per_look=ALPHA, step_time=30
    )
    assert absent.action == PROMOTE
    assert "no saga evidence (no Order service configured)" in absent.reasons[0]
    assert absent.numbers["saga"] == {"absent": "no Order service configured"}


def test_a_flag_read_by_a_service_is_judged_by_its_sagas_alone():
    early = judge(gateway_less(10.0, SagaWindow(12, 0, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert early.action == HOLD
    promoted = judge(gateway_less(31.0, SagaWindow(12, 1, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert promoted.action == PROMOTE  # no min_requests: the gateway sees none of it
    assert promoted.numbers["gateway"].startswith("none")
    failing = judge(gateway_less(5.0, SagaWindow(2, 18, 0, 0)), POLICY, alpha_per_look=ALPHA, step_time=30)
    assert failing.action == ROLLBACK


def test_the_saga_test_takes_its_share_of_alpha():
    assert alpha_per_look(0.01, [5, 100], 10, 3) == pytest.approx(alpha_per_look(0.01, [5, 100], 10) * 2 / 3)


def test_the_policy_turns_saga_evidence_on_per_route_and_makes_the_payments_flag_rollable(tmp_path):
    routes = load_route_infos()
    shipped = load_policy(routes=routes)
    assert shipped.for_route("orders.checkout").saga == SagaPolicy(0.2, 0, 0)
    payments = shipped.target("route.payments.charge", routes)  # the Order service reads it per order
    assert (payments.flag, payments.mode, shipped.rollable(payments)) == (
        "route.payments.charge",
        "service",
        True,
    )
    assert shipped.for_route("route.payments.charge").saga.min_sagas == 20
    assert shipped.target("route.no.such", routes) is None
    assert not shipped.rollable(routes["payments.charge"])  # the shadow route mirrors; it moves nothing
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "routes:\n  orders.checkout:\n    saga: {max_compensated: 2, stuck: 1}\n"
        "  payments.charge:\n    min_requests: 5\n"
        "flags:\n  route.orders.write:\n    saga: {}\n  route.payments.charge:\n    min_requests: 5\n"
    )
    with pytest.raises(FileProblems) as problems:
        load_policy(bad, routes)
    lines = problems.value.extra["problems"]
    assert any(line.startswith(f"{bad}:3: routes.orders.checkout.saga") and "stuck" in line for line in lines)
    assert f"{bad}:3: routes.orders.checkout.saga.max_compensated: must be from 0 to 1, got 2" in lines
    assert f"{bad}:5: routes: 'payments.charge' has no flag moving it from legacy to a target" in lines
    assert (
        f"{bad}:8: flags: 'route.orders.write' is route orders.write's flag: list the route under routes:"
        in lines
    )
    assert any(line.startswith(f"{bad}:10: flags.route.payments.charge: needs saga:") for line in lines)
