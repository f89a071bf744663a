"""`flags show NAME`: one flag in full."""

from dataclasses import dataclass
from typing import Any

from flags.features import FlagState
from flags.store import FlagStore


@dataclass(frozen=True)
class FlagShow:
    location: str
    flag: FlagState

    def to_dict(self) -> dict[str, Any]:
        return {"location": self.location, "flag": self.flag.to_feature(), "summary": self.flag.summary()}


def flag_show(store: FlagStore, name: str) -> FlagShow:
    return FlagShow(location=store.location, flag=store.get_flag(name))
