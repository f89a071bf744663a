"""`runbook run`: a runbook executed step by step, each step's command then its checks; the run stops at the
first failure and offers the rollback of the steps done (in reverse; run at once with
`rollback_on_failure`). `dry_run` prints every command and check and changes nothing.

Every run, step, answer and rollback goes into the flags' hash-chained audit log (FLAGS_AUDIT_LOG; `flags
audit --verify` checks it), beside the flag changes the steps make, as entries whose flag is
`runbook:<name>`. The run's progress is kept in `<STRANGLER_VAR_DIR>/runbooks/<name>.json`, so a run
interrupted (Ctrl-C, SIGTERM, kill) says where to resume: `runbook run NAME --from STEP`."""

from __future__ import annotations

import json
import os
import shlex
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from control.runbooks.checks import CheckOutcome, check_until
from control.runbooks.commands import run_command
from control.runbooks.model import Check, Runbook, Step, expand

Say = Callable[[str], None]
Confirm = Callable[[str], bool]


@dataclass
class RunResult:
    runbook: str
    run_id: str
    outcome: str = (
        "running"  # done | failed | rolled_back | rollback_failed | declined | interrupted | dry_run
    )
    steps: list[dict[str, Any]] = field(default_factory=list)
    rollback: list[dict[str, Any]] = field(default_factory=list)
    failed_step: str | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "runbook": self.runbook,
            "run_id": self.run_id,
            "outcome": self.outcome,
            "failed_step": self.failed_step,
            "reason": self.reason,
            "steps": self.steps,
            "rollback": self.rollback,
        }


def state_path(name: str) -> Path:
    var_dir = Path(os.environ.get("STRANGLER_VAR_DIR") or Path(__file__).resolve().parents[2] / "var")
    return var_dir / "runbooks" / f"{name}.json"


def read_state(name: str) -> dict[str, Any] | None:
    try:
        return json.loads(state_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_state(name: str, state: dict[str, Any]) -> None:
    path = state_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state, indent=2, default=str), encoding="utf-8")
    temporary.replace(path)


class Interrupted(Exception):
    """SIGTERM during a run: handled like Ctrl-C."""


@dataclass
class Runner:
    runbook: Runbook
    say: Say
    confirm: Confirm | None  # None: --yes (no question asked)
    actor: str
    audit: Any = None  # flags.audit.AuditLog; None in a dry run
    env: dict[str, str] | None = None
    rollback_on_failure: bool = False
    result: RunResult = field(init=False)

    def __post_init__(self) -> None:
        self.result = RunResult(self.runbook.name, uuid.uuid4().hex[:12])

    # --- the audit log and the state file --------------------------------------------------------------

    def record(self, action: str, **details: Any) -> None:
        if self.audit is None:
            return
        self.audit.append(
            who=self.actor,
            flag=f"runbook:{self.runbook.name}",
            action=f"runbook.{action}",
            before=None,
            after={"run": self.result.run_id, **details},
        )

    def save(self, status: str, next_step: str | None) -> None:
        if self.audit is None:
            return
        _write_state(
            self.runbook.name,
            {
                "run": self.result.run_id,
                "status": status,
                "next_step": next_step,
                "done": [s["id"] for s in self.result.steps if s["status"] == "done"],
                "at": datetime.now(UTC).isoformat(),
                "actor": self.actor,
            },
        )

    def ask(self, question: str) -> bool:
        if self.confirm is None:
            return True
        answer = self.confirm(question)
        self.record("answer", question=question, answer="yes" if answer else "no")
        return answer

    # --- pieces ----------------------------------------------------------------------------------------

    def checks(self, checks: tuple[Check, ...], indent: str = "  ") -> list[CheckOutcome]:
        outcomes = []
        for check in checks:
            outcome = check_until(check, self._env())
            self.say(f"{indent}check {outcome.line()} ({outcome.attempts} tries, {outcome.seconds:.1f} s)")
            outcomes.append(outcome)
            if not outcome.passed:
                break
        return outcomes

    def command(self, text: str, timeout: float, indent: str = "  ") -> tuple[int, str]:
        expanded = expand(text, self._env())
        self.say(f"{indent}$ {expanded}")
        started = time.monotonic()
        code, out, err = run_command(shlex.split(expanded), timeout=timeout, env=self.env)
        for line in out.rstrip().splitlines()[-15:]:
            self.say(f"{indent}  {line}")
        tail = " ".join(err.split())[-300:]
        self.say(
            f"{indent}exit {code} ({time.monotonic() - started:.1f} s){': ' + tail if code and tail else ''}"
        )
        return code, tail

    def _env(self) -> dict[str, str]:
        return {**os.environ, **(self.env or {})}

    # --- the run ---------------------------------------------------------------------------------------

    def dry_run(self, start: int) -> RunResult:
        book = self.runbook
        self.result.outcome = "dry_run"
        self.say(f"runbook {book.name}: {book.title} (dry run: nothing is changed)")
        for check in book.preconditions:
            self.say(f"precondition: {check.describe(self._env())} (within {check.timeout:g} s)")
        for index, step in enumerate(book.steps[start:], start=start):
            self.say(f"[{index + 1}/{len(book.steps)}] {step.id}: {step.say}")
            self.say(f"  would run: {expand(step.command.text, self._env())} (timeout {step.timeout:g} s)")
            for check in step.checks:
                self.say(f"  then check: {check.describe(self._env())} (within {check.timeout:g} s)")
            if step.rollback is None:
                self.say("  rollback: none needed (reads only)")
            elif step.rollback.command is None:
                self.say(f"  rollback: none: {step.rollback.reason}")
            else:
                self.say(f"  rollback: {expand(step.rollback.command.text, self._env())}")
            self.result.steps.append({"id": step.id, "status": "planned", "command": step.command.text})
        return self.result

    def run(self, start: int = 0) -> RunResult:
        book = self.runbook
        done: list[Step] = list(book.steps[:start])
        for step in done:
            self.result.steps.append({"id": step.id, "status": "done", "before_this_run": True})
        self.say(f"runbook {book.name}: {book.title} (run {self.result.run_id} by {self.actor})")
        self.record("start", start=book.steps[start].id, steps=[s.id for s in book.steps])
        previous = self._trap_sigterm()
        current: Step | None = None
        try:
            for outcome in self.checks(book.preconditions, indent="precondition: "):
                if not outcome.passed:
                    return self.finish("failed", None, f"precondition failed: {outcome.line()}", [])
            for index, step in enumerate(book.steps[start:], start=start):
                current = step
                self.save("running", step.id)
                self.say(f"[{index + 1}/{len(book.steps)}] {step.id}: {step.say}")
                if not self.ask(f"run step {step.id}: `{expand(step.command.text, self._env())}`?"):
                    return self.finish("declined", step, f"step {step.id} declined", done, offer=False)
                code, tail = self.command(step.command.text, step.timeout)
                outcomes = self.checks(step.checks) if code == 0 else []
                failed = next((o for o in outcomes if not o.passed), None)
                entry = {
                    "id": step.id,
                    "command": step.command.text,
                    "exit": code,
                    "checks": [o.to_dict() for o in outcomes],
                    "status": "done" if code == 0 and failed is None else "failed",
                }
                self.result.steps.append(entry)
                self.record("step", **entry)
                if code != 0:
                    return self.finish("failed", step, f"step {step.id}: exit {code}: {tail}", [*done, step])
                if failed is not None:
                    return self.finish(
                        "failed", step, f"step {step.id}: check {failed.line()}", [*done, step]
                    )
                done.append(step)
            return self.finish("done", None, "", done)
        except (KeyboardInterrupt, Interrupted):
            where = current.id if current else book.steps[start].id
            self.result.outcome = "interrupted"
            self.result.failed_step = where
            self.result.reason = (
                f"interrupted at step {where}; resume with `runbook run {book.name} --from {where}`"
            )
            self.record("end", outcome="interrupted", step=where)
            self.save("interrupted", where)
            self.say(self.result.reason)
            return self.result
        finally:
            self._restore_sigterm(previous)

    def finish(self, outcome: str, step: Step | None, reason: str, done: list[Step], offer=True) -> RunResult:
        result = self.result
        result.outcome, result.reason = outcome, reason
        result.failed_step = step.id if step else None
        if reason:
            self.say(f"stopped: {reason}")
        if outcome == "failed" and offer and done:
            undo = [s for s in reversed(done) if s.rollback is not None and s.rollback.command is not None]
            if not undo:
                self.say("nothing to roll back: the steps done changed nothing a client sees")
            elif self.rollback_on_failure or (
                self.confirm is not None and self.ask(f"roll back the {len(done)} steps done?")
            ):
                self.rollback(done)
            else:
                self.say("rollback offered, not run; to undo the steps done, in this order:")
                for s in undo:
                    self.say(f"  {expand(s.rollback.command.text, self._env())}")
                if self.runbook.rollback_runbook:
                    self.say(f"  (or `runbook run {self.runbook.rollback_runbook}`)")
        self.record("end", outcome=result.outcome, step=result.failed_step, reason=reason)
        self.save(result.outcome, result.failed_step if outcome != "done" else None)
        if outcome == "done":
            self.say(f"runbook {self.runbook.name}: done, {len(done)} steps")
        return result

    def rollback(self, done: list[Step]) -> None:
        """Undo the steps done, last first; one command run once when several steps share it."""
        self.say(f"rolling back {len(done)} steps")
        ran: set[str] = set()
        ok = True
        for step in reversed(done):
            if step.rollback is None or step.rollback.command is None:
                continue
            text = step.rollback.command.text
            if text in ran:
                continue
            ran.add(text)
            code, _tail = self.command(text, step.timeout, indent="  rollback: ")
            outcomes = self.checks((step.rollback.check,)) if code == 0 and step.rollback.check else []
            passed = code == 0 and all(o.passed for o in outcomes)
            ok = ok and passed
            entry = {"id": step.id, "command": text, "exit": code, "checks": [o.to_dict() for o in outcomes]}
            entry["status"] = "done" if passed else "failed"
            self.result.rollback.append(entry)
            self.record("rollback", **entry)
        self.result.outcome = "rolled_back" if ok else "rollback_failed"
        self.say("rollback done" if ok else "rollback FAILED: see the lines above")

    def _trap_sigterm(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def interrupted(*_):
            raise Interrupted

        return signal.signal(signal.SIGTERM, interrupted)

    def _restore_sigterm(self, previous) -> None:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
