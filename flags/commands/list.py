"""`flags list`: every flag and what it does now."""

from dataclasses import dataclass
from typing import Any

from flags.features import FlagState
from flags.store import FlagStore


@dataclass(frozen=True)
class FlagList:
    location: str
    flags: list[FlagState]

    def to_dict(self) -> dict[str, Any]:
        return {
            "location": self.location,
            "flags": [{"name": f.name, **f.audit_view(), "summary": f.summary()} for f in self.flags],
        }


def flags_list(store: FlagStore) -> FlagList:
    return FlagList(location=store.location, flags=store.list_flags())
