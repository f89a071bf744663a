"""`flags kill`: every `route.*` flag off at once, so all traffic goes back to the monolith."""

from flags.audit import AuditLog
from flags.commands.results import ChangeResult
from flags.store import FlagStore


def flags_kill(store: FlagStore, audit: AuditLog, *, actor: str) -> ChangeResult:
    """Always audited, as one entry listing every route flag, even when all of them were already off."""
    changes = store.kill_routes()
    entry = audit.append(
        who=actor,
        flag="route.*",
        action="kill",
        before={c.name: c.before.audit_view() for c in changes if c.before},
        after={c.name: c.after.audit_view() for c in changes},
    )
    return ChangeResult(action="kill", location=store.location, changes=changes, audit_entries=[entry])
