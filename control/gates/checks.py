"""Evaluating a route's evidence gates: each gate gives a pass or a one-line failure saying by how much.

Sources: the shadow comparator's results (shadow.commands.gate, the same rule as `shadow gate`), the
recorded verify outcomes and the outbox relay's backlog (migrations_data), and the control database
(open rollbacks). A source that cannot be read fails its gate (fail closed), naming the error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from control.durations import show_duration
from control.gates.spec import RouteGates
from control.models import Rollout


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    message: str

    def line(self) -> str:
        return f"{self.gate}: {self.message}"


def _safely(gate: str, check: Callable[[], GateResult]) -> GateResult:
    try:
        return check()
    except Exception as exc:  # the evidence cannot be read: the gate fails closed
        text = " ".join(str(exc).split())[:300]
        return GateResult(gate, False, f"cannot be evaluated ({type(exc).__name__}: {text})")


def shadow_gate_result(route: str, gate) -> GateResult:
    from shadow.commands.gate import shadow_gate
    from shadow.rules_file import load_rules

    since = timezone.now() - timedelta(seconds=gate.since) if gate.since else None
    result = shadow_gate(
        rules=load_rules(settings.SHADOW_RULES),
        route=route,
        min_match=gate.min_match,
        min_samples=gate.min_pairs,
        since=since,
    )
    if result.passed:
        return GateResult("shadow", True, result.reason)
    if result.samples < gate.min_pairs:
        short = gate.min_pairs - result.samples
        return GateResult(
            "shadow",
            False,
            f"{result.samples} pairs compared, {short} short of the {gate.min_pairs} required",
        )
    gap = gate.min_match - (result.match_rate or 0.0)
    paths = f"; real differences at {', '.join(result.real_paths[:3])}" if result.real_paths else ""
    return GateResult(
        "shadow",
        False,
        f"match {result.match_rate:.3f}% < {gate.min_match}% over {result.samples} pairs "
        f"(short by {gap:.3f} points){paths}",
    )


def verify_gate_result(gate) -> GateResult:
    from migrations_data.engine.checkpoint import verify_last_clean

    last = verify_last_clean(gate.entity)
    within = show_duration(gate.within)
    if last is None:
        return GateResult(
            "verify", False, f"no clean `sync {gate.entity} verify` recorded (need one within {within})"
        )
    age = (timezone.now() - last).total_seconds()
    if age > gate.within:
        return GateResult(
            "verify",
            False,
            f"last clean verify of {gate.entity} is {show_duration(round(age))} old, older than {within} "
            f"(by {show_duration(round(age - gate.within))})",
        )
    return GateResult("verify", True, f"clean verify of {gate.entity} {show_duration(round(age))} ago")


def sync_lag_gate_result(gate) -> GateResult:
    from migrations_data.outbox.status import relay_backlog

    backlog = relay_backlog()  # rows written before the last finished backfill began are covered by it
    pending, lag = backlog.to_relay, backlog.lag_seconds
    if lag > gate.max:
        return GateResult(
            "sync_lag",
            False,
            f"{gate.entity} sync lag {lag:.1f} s ({pending} rows pending) > {gate.max:g} s "
            f"(by {lag - gate.max:.1f} s)",
        )
    return GateResult("sync_lag", True, f"{gate.entity} sync lag {lag:.1f} s <= {gate.max:g} s")


def open_rollback_result(route: str) -> GateResult:
    try:
        rolled_back = (
            Rollout.objects.filter(route=route, state=Rollout.State.ROLLED_BACK, closed_at__isnull=True)
            .order_by("-finished_at")
            .first()
        )
    except DatabaseError as exc:
        raise DatabaseError(
            f"the control database: {exc} (run `manage.py migrate --database control`)"
        ) from exc
    if rolled_back is None:
        return GateResult("open_rollback", True, "no open rollback")
    return GateResult(
        "open_rollback",
        False,
        f"rollout {rolled_back.pk} was rolled back ({rolled_back.reason[:160]}); close it first with "
        f"`rollout close {route} --reason ...`",
    )


def evaluate_gates(gates: RouteGates) -> list[GateResult]:
    results = [_safely("open_rollback", lambda: open_rollback_result(gates.route))]
    if gates.shadow is not None:
        results.append(_safely("shadow", lambda: shadow_gate_result(gates.route, gates.shadow)))
    if gates.verify is not None:
        results.append(_safely("verify", lambda: verify_gate_result(gates.verify)))
    if gates.sync_lag is not None:
        results.append(_safely("sync_lag", lambda: sync_lag_gate_result(gates.sync_lag)))
    return results
