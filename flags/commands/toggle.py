"""`flags on NAME` / `flags off NAME`: switch a flag; its strategies (rollout, allow-lists) stay. Switching
on is a raise and passes the evidence gates first (flags/gates.py); switching off never waits."""

import dataclasses

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.gates import RaiseRequest, check_raise, effective_percentage, merge_notes
from flags.store import FlagStore


def flag_toggle(
    store: FlagStore,
    audit: AuditLog,
    *,
    name: str,
    enabled: bool,
    actor: str,
    force: bool = False,
    reason: str | None = None,
    note: dict | None = None,
) -> ChangeResult:
    action = "on" if enabled else "off"
    gate_note = None
    if enabled:
        state = store.get_flag(name)
        before = effective_percentage(state)
        after = effective_percentage(dataclasses.replace(state, enabled=True))
        request = RaiseRequest(name, before, after, actor)
        gate_note = check_raise(request, force=force, reason=reason).audit_note()
    change = store.set_enabled(name, enabled)
    entries = audit_changes(audit, actor, action, [change], {name: merge_notes(gate_note, note)})
    return ChangeResult(action=action, location=store.location, changes=[change], audit_entries=entries)
