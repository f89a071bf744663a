"""`flags audit [--verify]`: the latest audit entries, or a check of the whole hash chain."""

from dataclasses import dataclass
from typing import Any

from flags.audit import AuditLog, Verification


@dataclass(frozen=True)
class AuditListing:
    path: str
    entries: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "entries": self.entries}


def audit_list(audit: AuditLog, *, limit: int | None = 20) -> AuditListing:
    entries = list(audit.entries())
    if limit:
        entries = entries[-limit:]
    return AuditListing(path=str(audit.path), entries=entries)


def audit_verify(audit: AuditLog) -> Verification:
    return audit.verify()
