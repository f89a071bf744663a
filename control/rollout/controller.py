"""The rollout controller (`manage.py rollout run`): drives every running rollout a step at a time.

Each tick, for each running rollout whose lease it holds (or takes: leases expire, so a controller killed
with -9 is replaced within `lease` seconds; two controllers never drive one route):
1. a person's change wins: if the flag no longer says what the controller last wrote, the rollout pauses;
2. a step whose percentage is not written yet is written (gated like `flags rollout`; a refused gate
   holds, with the failed gates as the reason);
3. after `settle` (the policy's, plus the flag store's propagation time) the step's window opens: the
   gateway's counters are the baseline (and the Order service's saga figures, for a stage whose policy
   reads them: control/rollout/sagas.py); from then on, at most once per second, the judge compares target
   and legacy over the window and the controller promotes (next step, or done), holds, or rolls back:
   ONE flag write (off), audited with the evidence. A flag the gateway does not route by (the policy's
   `flags:`; payments: the Order service reads route.payments.charge per order) is judged by its saga
   outcomes alone.
All state is in the control database, so a restarted controller carries on where the last one stopped."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from control.errors import ControlError
from control.models import Rollout
from control.rollout import metrics
from control.rollout.evidence import GatewayFeed, window_between
from control.rollout.flagwrites import FlagWriter
from control.rollout.judge import HOLD, PROMOTE, ROLLBACK, Verdict, Window, gateway_less, judge
from control.rollout.looks import LOOK_EVERY, look_alpha, planned_looks
from control.rollout.policy import JudgePolicy, Policy, load_policy
from control.rollout.sagas import SagaCounts, SagaEvidenceAbsent, SagaFeed, SagaWindow, saga_window
from control.rollout.scrape import EvidenceUnavailable
from control.rollout.services import event_record
from control.routes_file import RouteInfo, load_route_infos
from flags.errors import FlagsError
from flags.gates import GateRefused

logger = logging.getLogger(__name__)
BLIND_PAUSE_SECONDS = 60.0  # no evidence for this long: pause (a person decides)


class Superseded(ControlError):
    def __init__(self, route: str) -> None:
        super().__init__("superseded", f"the rollout of {route} was paused or ended meanwhile")


def controller_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class TickReport:
    route: str
    rollout: int
    action: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"route": self.route, "rollout": self.rollout, "action": self.action, "detail": self.detail}


@dataclass
class Controller:
    writer: FlagWriter
    feed: GatewayFeed
    policy: Policy
    routes: dict[str, RouteInfo]
    sagas: SagaFeed = field(default_factory=lambda: SagaFeed([]))
    owner: str = field(default_factory=controller_id)
    lease: float = 5.0
    actor: str = "rollout-controller"
    _blind_since: dict[int, datetime] = field(default_factory=dict)
    _last_look: dict[int, datetime] = field(default_factory=dict)

    @classmethod
    def from_env(cls, **options: Any) -> Controller:
        routes = load_route_infos()
        return cls(
            writer=FlagWriter.from_env(),
            feed=GatewayFeed.from_env(),
            policy=load_policy(routes=routes),
            routes=routes,
            sagas=SagaFeed.from_env(),
            **options,
        )

    # --- leases ---------------------------------------------------------------------------------------
    def acquire(self, rollout: Rollout, now: datetime) -> bool:
        taken = (
            Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.RUNNING)
            .filter(Q(owner=self.owner) | Q(owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(owner=self.owner, lease_until=now + timedelta(seconds=self.lease))
        )
        if taken and rollout.owner != self.owner:
            logger.info("controller %s drives rollout %s of %s", self.owner, rollout.pk, rollout.route)
        return bool(taken)

    def release_all(self) -> None:
        Rollout.objects.filter(owner=self.owner).update(owner="", lease_until=None)

    # --- the loop body --------------------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> list[TickReport]:
        reports = []
        for rollout in Rollout.objects.filter(state=Rollout.State.RUNNING).order_by("id"):
            moment = now or timezone.now()
            if not self.acquire(rollout, moment):
                continue
            rollout.refresh_from_db()
            metrics.declare_route(rollout.route)
            try:
                reports.append(self._drive_or_hold(rollout, moment))
            except Superseded as exc:
                reports.append(TickReport(rollout.route, rollout.pk, "superseded", exc.message))
        return reports

    def _drive_or_hold(self, rollout: Rollout, now: datetime) -> TickReport:
        try:
            return self.drive(rollout, now)
        except Superseded:
            raise
        except (FlagsError, ControlError) as exc:  # the flag store or a file is unusable right now
            return self._hold(rollout, f"cannot act: {exc.message}")

    def drive(self, rollout: Rollout, now: datetime) -> TickReport:
        info = self.policy.target(rollout.route, self.routes)
        if info is None or not self.policy.rollable(info):
            return self._pause(rollout, f"route {rollout.route} is no longer rollable in the route table")
        observed, summary = self.writer.percentage(rollout.flag)
        if rollout.expected_percentage is not None and observed != rollout.expected_percentage:
            return self._pause(
                rollout,
                f"{rollout.flag} was changed outside the controller "
                f"(expected {rollout.expected_percentage}%, "
                f"found {summary}): a person's change wins; `rollout resume {rollout.route}` carries on",
                kind="manual",
            )
        if rollout.step_started_at is None:
            return self._write_step(rollout, now)
        policy = self.policy.for_route(rollout.route)
        opens_at = rollout.step_started_at + timedelta(
            seconds=policy.settle + self.writer.propagation_seconds
        )
        if now < opens_at:
            return TickReport(rollout.route, rollout.pk, HOLD, "settling after the flag write")
        try:
            snapshot = self.feed.snapshot().get(rollout.route, {}) if info.can_roll_out else {}
            sagas = self._saga_snapshot(policy, opened=rollout.window_baseline is not None, rollout=rollout)
        except EvidenceUnavailable as exc:
            since = self._blind_since.setdefault(rollout.pk, now)
            if (now - since).total_seconds() >= BLIND_PAUSE_SECONDS:
                return self._pause(rollout, f"no evidence for {BLIND_PAUSE_SECONDS:.0f} s: {exc.message}")
            return self._hold(rollout, f"no evidence: {exc.message}")
        self._blind_since.pop(rollout.pk, None)
        if rollout.window_baseline is None:
            return self._open_window(rollout, snapshot, sagas, now)
        last = self._last_look.get(rollout.pk)
        if last is not None and (now - last).total_seconds() < LOOK_EVERY * 0.95:
            return TickReport(rollout.route, rollout.pk, HOLD, "between looks")
        seconds = (now - rollout.window_opened_at).total_seconds()
        window = self._window(rollout, info, snapshot, sagas, seconds)
        if window is None:
            return self._open_window(rollout, snapshot, sagas, now, why="a counter restarted")
        self._last_look[rollout.pk] = now
        rollout.looks += 1
        alpha = look_alpha(rollout.alpha_per_look, rollout.looks, planned_looks(rollout.step_time))
        verdict = judge(window, policy, alpha_per_look=alpha, step_time=rollout.step_time)
        if verdict.action == ROLLBACK:
            return self._roll_back(rollout, verdict, now)
        if verdict.action == PROMOTE:
            return self._promote(rollout, verdict, now)
        return self._hold(rollout, verdict.summary, verdict)

    def _saga_snapshot(self, policy: JudgePolicy, *, opened: bool, rollout: Rollout) -> dict | None:
        """The saga figures now ({"absent": why} when no Order service answers), None when the policy
        reads none. Absent when the window opened: judged without them; lost later: no evidence (hold)."""
        if policy.saga is None:
            return None
        try:
            return self.sagas.snapshot().to_dict()
        except SagaEvidenceAbsent as exc:
            if opened and "absent" not in (rollout.saga_baseline or {}):
                raise EvidenceUnavailable(f"saga figures: {exc}") from None
            return {"absent": str(exc)}

    def _window(
        self, rollout: Rollout, info: RouteInfo, snapshot: dict, sagas: dict | None, seconds: float
    ) -> Window | None:
        saga: SagaWindow | None = None
        absent = ""
        baseline = rollout.saga_baseline
        if sagas is not None and baseline is not None:
            if "absent" in baseline:
                absent = baseline["absent"]
            else:
                saga = saga_window(SagaCounts.from_dict(baseline), SagaCounts.from_dict(sagas))
                if saga is None:
                    return None
        if not info.can_roll_out:
            return gateway_less(seconds, saga, absent)
        window = window_between(
            rollout.window_baseline, snapshot, target=info.target, legacy=info.legacy, seconds=seconds
        )
        return None if window is None else dataclasses.replace(window, sagas=saga, sagas_absent=absent)

    # --- actions --------------------------------------------------------------------------------------
    def _save(self, rollout: Rollout) -> None:
        """Save only while the rollout is still running in the database: a person's pause or abort made
        meanwhile wins (Superseded)."""
        fields = {
            f.attname: getattr(rollout, f.attname)
            for f in Rollout._meta.concrete_fields
            if f.attname not in ("id", "created_at", "updated_at")
        }
        updated = Rollout.objects.filter(pk=rollout.pk, state=Rollout.State.RUNNING).update(
            updated_at=timezone.now(), **fields
        )
        if not updated:
            raise Superseded(rollout.route)

    def _note(self, rollout: Rollout, verdict: Verdict | None = None, **extra: Any) -> dict[str, Any]:
        note: dict[str, Any] = {"rollout": rollout.pk, "step": rollout.step_index, "controller": self.owner}
        if verdict is not None:
            note.update(decision=verdict.action, reasons=list(verdict.reasons), evidence=verdict.numbers)
        return note | extra

    def _write_step(self, rollout: Rollout, now: datetime) -> TickReport:
        percentage = rollout.percentage
        try:
            self.writer.raise_to(rollout.flag, percentage, actor=self.actor, note=self._note(rollout))
        except GateRefused as exc:
            return self._hold(
                rollout, "gates refuse the next step: " + "; ".join(f.line() for f in exc.failures)
            )
        rollout.expected_percentage = percentage
        rollout.step_started_at = now
        rollout.window_opened_at = rollout.window_baseline = rollout.saga_baseline = None
        rollout.looks = 0
        self._last_look.pop(rollout.pk, None)
        event_record(
            rollout, "flag_write", f"{rollout.flag} -> {percentage}%", percentage=percentage, actor=self.actor
        )
        if percentage == 100 and rollout.step_index == len(rollout.steps) - 1:
            return self._finish(rollout, now, f"{rollout.flag} at 100%: promoted")
        self._save(rollout)
        return TickReport(rollout.route, rollout.pk, "flag_write", f"{percentage}%")

    def _open_window(
        self, rollout: Rollout, snapshot: dict, sagas: dict | None, now: datetime, why: str = ""
    ) -> TickReport:
        rollout.window_baseline, rollout.window_opened_at, rollout.looks = snapshot, now, 0
        rollout.saga_baseline = sagas
        self._save(rollout)
        return TickReport(rollout.route, rollout.pk, HOLD, f"window opened{': ' + why if why else ''}")

    def _roll_back(self, rollout: Rollout, verdict: Verdict, now: datetime) -> TickReport:
        self.writer.switch_off(rollout.flag, actor=self.actor, note=self._note(rollout, verdict))
        rollout.state, rollout.reason = Rollout.State.ROLLED_BACK, "; ".join(verdict.reasons)
        rollout.expected_percentage, rollout.finished_at = 0, now
        rollout.last_verdict = {
            "action": verdict.action,
            "reasons": list(verdict.reasons),
            "at": now.isoformat(),
        }
        rollout.owner, rollout.lease_until = "", None
        self._save(rollout)
        event_record(
            rollout,
            "decision",
            verdict.summary,
            action=ROLLBACK,
            percentage=0,
            evidence=verdict.numbers,
            actor=self.actor,
        )
        metrics.count_rollback(rollout.route)
        logger.warning("rolled back %s: %s", rollout.route, verdict.summary)
        return TickReport(rollout.route, rollout.pk, ROLLBACK, verdict.summary)

    def _promote(self, rollout: Rollout, verdict: Verdict, now: datetime) -> TickReport:
        event_record(
            rollout,
            "decision",
            verdict.summary,
            action=PROMOTE,
            percentage=rollout.percentage,
            evidence=verdict.numbers,
            actor=self.actor,
        )
        rollout.last_verdict = {
            "action": verdict.action,
            "reasons": list(verdict.reasons),
            "at": now.isoformat(),
        }
        if rollout.step_index + 1 >= len(rollout.steps):
            return self._finish(rollout, now, f"last step {rollout.percentage}% judged healthy: promoted")
        rollout.step_index += 1
        rollout.step_started_at = None
        return self._write_step(rollout, now)

    def _finish(self, rollout: Rollout, now: datetime, summary: str) -> TickReport:
        rollout.state, rollout.finished_at, rollout.reason = Rollout.State.PROMOTED, now, summary
        rollout.owner, rollout.lease_until = "", None
        self._save(rollout)
        event_record(rollout, "promoted", summary, percentage=rollout.percentage, actor=self.actor)
        return TickReport(rollout.route, rollout.pk, "promoted", summary)

    def _hold(self, rollout: Rollout, reason: str, verdict: Verdict | None = None) -> TickReport:
        previous = (rollout.last_verdict or {}).get("reasons") or [""]
        rollout.last_verdict = {
            "action": HOLD,
            "reasons": list(verdict.reasons) if verdict else [reason],
            "numbers": verdict.numbers if verdict else None,
            "at": timezone.now().isoformat(),
        }
        self._save(rollout)
        if previous[0].split(" ")[:2] != rollout.last_verdict["reasons"][0].split(" ")[:2]:
            event_record(rollout, "hold", reason, actor=self.actor)
        return TickReport(rollout.route, rollout.pk, HOLD, reason)

    def _pause(self, rollout: Rollout, reason: str, kind: str = "pause") -> TickReport:
        rollout.state, rollout.reason = Rollout.State.PAUSED, reason
        rollout.owner, rollout.lease_until = "", None
        self._save(rollout)
        event_record(rollout, kind, reason, actor=self.actor)
        logger.warning("paused %s: %s", rollout.route, reason)
        return TickReport(rollout.route, rollout.pk, "pause", reason)
