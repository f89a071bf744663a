"""Writes on rollouts: start, pause, resume, abort, close; each one transaction on the control database,
each recorded as an event. The flag itself is written by the controller (and by abort: one write off)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from control.errors import ControlError, GatesRefused
from control.gates.checks import GateResult, evaluate_gates
from control.gates.spec import load_gates
from control.models import Rollout, RolloutEvent
from control.rollout.flagwrites import FlagWriter
from control.rollout.looks import alpha_per_look
from control.rollout.policy import load_policy
from control.rollout.selectors import rollout_active, rollout_get_active
from control.routes_file import load_route_infos

DB = "control"


def event_record(rollout: Rollout, kind: str, summary: str, **fields: Any) -> RolloutEvent:
    return RolloutEvent.objects.create(
        rollout=rollout,
        kind=kind,
        summary=summary,
        step_index=fields.pop("step_index", rollout.step_index),
        percentage=fields.pop("percentage", None),
        **fields,
    )


def parse_steps(text: str | list[int]) -> list[int]:
    try:
        steps = [int(s) for s in (text.split(",") if isinstance(text, str) else text)]
    except ValueError:
        raise ControlError(
            "bad_steps", f"--steps must be whole percentages like 1,5,25,50,100, got {text!r}"
        ) from None
    if not steps or any(not 1 <= s <= 100 for s in steps) or steps != sorted(set(steps)):
        raise ControlError("bad_steps", f"--steps must rise strictly within 1..100, got {text!r}")
    return steps


@dataclass
class StartPlan:
    route: str
    flag: str
    steps: list[int]
    step_time: float
    current_percentage: int
    policy: dict
    alpha_per_look: float
    gates: list[GateResult] = field(default_factory=list)
    rollout_id: int | None = None
    dry_run: bool = False

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "flag": self.flag,
            "steps": self.steps,
            "step_time": self.step_time,
            "current_percentage": self.current_percentage,
            "policy": self.policy,
            "alpha_per_look": self.alpha_per_look,
            "gates": [{"gate": g.gate, "passed": g.passed, "message": g.message} for g in self.gates],
            "rollout": self.rollout_id,
            "dry_run": self.dry_run,
        }


def rollout_start(
    *,
    route: str,
    steps: str | list[int],
    step_time: float,
    actor: str,
    dry_run: bool = False,
    writer: FlagWriter | None = None,
) -> StartPlan:
    routes = load_route_infos()
    policies = load_policy(routes=routes)
    info = policies.target(route, routes)
    if info is None:
        raise ControlError(
            "unknown_route", f"route {route!r} is not in the route table (nor a flag of the policy's flags:)"
        )
    if not policies.rollable(info):
        raise ControlError(
            "not_rollable",
            f"route {route} has no flag moving it from legacy to a target",
        )
    if not step_time >= 1:
        raise ControlError("bad_step_time", f"--step-time must be at least 1s, got {step_time:g}s")
    wanted = parse_steps(steps)
    policy = policies.for_route(route)
    gates = load_gates(routes=routes).routes.get(route)
    writer = writer or FlagWriter.from_env()
    current, _summary = writer.percentage(info.flag)
    remaining = [s for s in wanted if s > current]
    if not remaining:
        raise ControlError("nothing_to_do", f"{info.flag} is already at {current}%, above every step")
    plan = StartPlan(
        route=route,
        flag=info.flag,
        steps=remaining,
        step_time=step_time,
        current_percentage=current,
        policy=policy.to_dict(),
        alpha_per_look=alpha_per_look(policy.alpha, remaining, step_time, policy.tests),
        gates=evaluate_gates(gates) if gates is not None else [],
        dry_run=dry_run,
    )
    if dry_run:
        return plan
    if not plan.gates_passed:
        raise GatesRefused(route, [g.line() for g in plan.gates if not g.passed], plan.to_dict())
    try:
        with transaction.atomic(using=DB):
            if rollout_active(route) is not None:
                raise ControlError("already_running", f"route {route} already has an active rollout")
            rollout = Rollout.objects.create(
                route=route,
                flag=info.flag,
                steps=remaining,
                step_time=step_time,
                actor=actor,
                alpha_per_look=plan.alpha_per_look,
                expected_percentage=current,
            )
            event_record(
                rollout,
                "start",
                f"steps {remaining} every {step_time:g}s from {current}%",
                actor=actor,
                evidence=plan.to_dict(),
            )
    except IntegrityError:
        raise ControlError("already_running", f"route {route} already has an active rollout") from None
    plan.rollout_id = rollout.pk
    return plan


def rollout_pause(*, route: str, reason: str, actor: str, kind: str = "pause") -> Rollout:
    with transaction.atomic(using=DB):
        rollout = Rollout.objects.select_for_update().get(pk=rollout_get_active(route).pk)
        rollout.state, rollout.reason = Rollout.State.PAUSED, reason
        rollout.save(update_fields=["state", "reason", "updated_at"])
        event_record(rollout, kind, reason, actor=actor)
    return rollout


def rollout_resume(*, route: str, actor: str, writer: FlagWriter | None = None) -> Rollout:
    """Carry on from the current step: its percentage is written again (gated) and its window reopens.
    What the flag says now becomes what the controller expects, so a person's change is taken as is."""
    writer = writer or FlagWriter.from_env()
    with transaction.atomic(using=DB):
        rollout = Rollout.objects.select_for_update().get(pk=rollout_get_active(route).pk)
        if rollout.state != Rollout.State.PAUSED:
            raise ControlError("not_paused", f"the rollout of {route} is {rollout.state}, not paused")
        current, summary = writer.percentage(rollout.flag)
        rollout.state, rollout.reason = Rollout.State.RUNNING, ""
        rollout.expected_percentage = current
        rollout.step_started_at = rollout.window_opened_at = rollout.window_baseline = None
        rollout.saga_baseline = None
        rollout.looks = 0
        rollout.save()
        event_record(
            rollout, "resume", f"resumed at step {rollout.percentage}% (flag now {summary})", actor=actor
        )
    return rollout


def rollout_abort(*, route: str, reason: str, actor: str, writer: FlagWriter | None = None) -> Rollout:
    """Stop and send every user back to legacy: one flag write (off), audited with the reason."""
    writer = writer or FlagWriter.from_env()
    with transaction.atomic(using=DB):
        rollout = Rollout.objects.select_for_update().get(pk=rollout_get_active(route).pk)
        writer.switch_off(rollout.flag, actor=actor, note={"rollout": rollout.pk, "abort": reason})
        rollout.state, rollout.reason, rollout.finished_at = Rollout.State.ABORTED, reason, timezone.now()
        rollout.expected_percentage = 0
        rollout.save()
        event_record(rollout, "abort", reason, actor=actor, percentage=0)
    return rollout


def rollout_close(*, route: str, reason: str, actor: str) -> Rollout:
    """Acknowledge a rollback (the gate `open_rollback` then lets the route's flag be raised again)."""
    if not reason.strip():
        raise ControlError("reason_required", "closing a rollback needs --reason")
    with transaction.atomic(using=DB):
        rollout = (
            Rollout.objects.select_for_update()
            .filter(route=route, state=Rollout.State.ROLLED_BACK, closed_at__isnull=True)
            .order_by("-finished_at")
            .first()
        )
        if rollout is None:
            raise ControlError("no_open_rollback", f"route {route} has no open rollback")
        rollout.closed_at, rollout.close_reason = timezone.now(), reason
        rollout.save(update_fields=["closed_at", "close_reason", "updated_at"])
        event_record(rollout, "close", reason, actor=actor)
    return rollout
