"""`flags rollout NAME PCT [--stickiness ...]`: turn a flag on for PCT% of users, sticky per user. A raise
passes the evidence gates first (flags/gates.py)."""

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError
from flags.features import STICKINESS_CHOICES, parse_percentage
from flags.gates import RaiseRequest, check_raise, effective_percentage, merge_notes
from flags.store import FlagStore


def flag_rollout(
    store: FlagStore,
    audit: AuditLog,
    *,
    name: str,
    percentage: str | int,
    stickiness: str | None = None,
    actor: str,
    force: bool = False,
    reason: str | None = None,
    note: dict | None = None,
) -> ChangeResult:
    pct = parse_percentage(percentage)
    if stickiness is not None and stickiness not in STICKINESS_CHOICES:
        raise FlagsError(
            "invalid_stickiness",
            f"stickiness must be one of {', '.join(STICKINESS_CHOICES)}, got {stickiness!r}",
        )
    before = effective_percentage(store.get_flag(name))
    outcome = check_raise(RaiseRequest(name, before, pct, actor), force=force, reason=reason)
    change = store.set_rollout(name, pct, stickiness)
    notes = {name: merge_notes(outcome.audit_note(), note)}
    entries = audit_changes(audit, actor, f"rollout {pct}%", [change], notes)
    return ChangeResult(action="rollout", location=store.location, changes=[change], audit_entries=entries)
