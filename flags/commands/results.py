"""Result objects shared by the commands, and how a change becomes an audit entry."""

from dataclasses import dataclass, field
from typing import Any

from flags.audit import AuditLog
from flags.features import FlagState
from flags.store import Change


@dataclass(frozen=True)
class ChangeResult:
    """What a changing command did: the flags it touched, and the audit entries it appended."""

    action: str
    location: str
    changes: list[Change]
    audit_entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.changed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "location": self.location,
            "flags": [
                {
                    "name": c.name,
                    "changed": c.changed,
                    "before": c.before.audit_view() if c.before else None,
                    "after": view(c.after),
                    "summary": c.after.summary() if c.after else "deleted",
                }
                for c in self.changes
            ],
            "audit": [e["hash"] for e in self.audit_entries],
        }


def view(state: FlagState | None) -> dict[str, Any] | None:
    return state.audit_view() if state else None


def audit_changes(
    audit: AuditLog,
    actor: str,
    action: str,
    changes: list[Change],
    notes: dict[str, dict[str, Any] | None] | None = None,
) -> list[dict[str, Any]]:
    """One audit entry per flag that really changed (`notes`: an optional note per flag name)."""
    notes = notes or {}
    return [
        audit.append(
            who=actor,
            flag=c.name,
            action=action,
            before=view(c.before),
            after=view(c.after),
            note=notes.get(c.name),
        )
        for c in changes
        if c.changed
    ]
