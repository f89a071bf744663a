"""The gate check on every flag RAISE: the flags package defines the hook; the control app registers the
evidence gates into it (control/gates/hook.py). flags imports nothing of control: the dependency points
from control to flags.

A raise is a change that gives a route flag to more users than before (`on`, `rollout` upward, an import
that does either). Lowering is never gated. A refused raise lists every failed gate on one line each;
`--force --reason "..."` overrides the gates and the audit entry carries the reason and what failed.
Without a registered check (`python -m flags`, no Django), every raise of a `route.*` flag is refused
unless forced: fail closed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.cli import EXIT_CHECK_FAILED
from flags.errors import FlagsError
from flags.features import ROUTE_PREFIX, FlagState


@dataclass(frozen=True)
class RaiseRequest:
    flag: str
    before: int  # percentage of users that get it now (0: off)
    after: int
    actor: str


@dataclass(frozen=True)
class GateFailure:
    gate: str
    message: str  # one line: what failed and by how much

    def line(self) -> str:
        return f"{self.gate}: {self.message}"


@dataclass(frozen=True)
class GateOutcome:
    """A raise allowed: with no failure, or forced over `failures` for `reason`."""

    failures: tuple[GateFailure, ...] = ()
    forced: bool = False
    reason: str = ""

    def audit_note(self) -> dict[str, Any] | None:
        if not self.forced:
            return None
        return {"forced": True, "reason": self.reason, "failed_gates": [f.line() for f in self.failures]}


GateCheck = Callable[[RaiseRequest], Sequence[GateFailure]]
_checks: list[GateCheck] = []


class GateRefused(FlagsError):
    exit_code = EXIT_CHECK_FAILED  # a check said no (contracts/cli): exit 1

    def __init__(self, request: RaiseRequest, failures: Sequence[GateFailure]) -> None:
        lines = [f.line() for f in failures]
        message = (
            f"raise of {request.flag} from {request.before}% to {request.after}% refused by "
            f"{len(lines)} gate{'s' if len(lines) != 1 else ''}:\n" + "\n".join(f"  {line}" for line in lines)
        )
        super().__init__("gate_refused", message, {"flag": request.flag, "failed_gates": lines})
        self.failures = tuple(failures)
        self.detail_lines = tuple(lines)  # the command line prints one line per failed gate


def register_gate_check(check: GateCheck) -> None:
    if check not in _checks:
        _checks.append(check)


def unregister_gate_check(check: GateCheck) -> None:
    if check in _checks:
        _checks.remove(check)


def effective_percentage(state: FlagState | None) -> int:
    """How many users (percent) a flag gives its path to: 0 when off, its rollout, else 100."""
    if state is None or not state.enabled:
        return 0
    rollout = state.rollout
    return 100 if rollout is None else rollout


NO_CHECKER = GateFailure(
    "gates", "no gate check is loaded (run `manage.py flags`, which loads the control app's gates)"
)


def check_raise(request: RaiseRequest, *, force: bool = False, reason: str | None = None) -> GateOutcome:
    """Allow or refuse a change; raises GateRefused, or FlagsError when --force lacks a reason."""
    if force and not (reason or "").strip():
        raise FlagsError("reason_required", '--force needs --reason "why the gates are overridden"')
    if request.after <= request.before or not request.flag.startswith(ROUTE_PREFIX):
        return GateOutcome()
    failures: list[GateFailure] = []
    if not _checks:
        failures.append(NO_CHECKER)
    for check in _checks:
        failures.extend(check(request))
    if failures and not force:
        raise GateRefused(request, failures)
    return GateOutcome(tuple(failures), forced=bool(failures), reason=(reason or "").strip())


def merge_notes(*notes: dict[str, Any] | None) -> dict[str, Any] | None:
    merged: dict[str, Any] = {}
    for note in notes:
        merged.update(note or {})
    return merged or None
