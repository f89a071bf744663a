"""`flags on NAME` / `flags off NAME`: switch a flag; its strategies (rollout, allow-lists) stay."""

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.store import FlagStore


def flag_toggle(store: FlagStore, audit: AuditLog, *, name: str, enabled: bool, actor: str) -> ChangeResult:
    action = "on" if enabled else "off"
    change = store.set_enabled(name, enabled)
    entries = audit_changes(audit, actor, action, [change])
    return ChangeResult(action=action, location=store.location, changes=[change], audit_entries=entries)
