"""`flags rollout NAME PCT [--stickiness ...]`: turn a flag on for PCT% of users, sticky per user."""

from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError
from flags.features import STICKINESS_CHOICES, parse_percentage
from flags.store import FlagStore


def flag_rollout(
    store: FlagStore,
    audit: AuditLog,
    *,
    name: str,
    percentage: str | int,
    stickiness: str | None = None,
    actor: str,
) -> ChangeResult:
    pct = parse_percentage(percentage)
    if stickiness is not None and stickiness not in STICKINESS_CHOICES:
        raise FlagsError(
            "invalid_stickiness",
            f"stickiness must be one of {', '.join(STICKINESS_CHOICES)}, got {stickiness!r}",
        )
    change = store.set_rollout(name, pct, stickiness)
    entries = audit_changes(audit, actor, f"rollout {pct}%", [change])
    return ChangeResult(action="rollout", location=store.location, changes=[change], audit_entries=entries)
