"""Where the commands read and change flags: the flags file, or an Unleash server's Admin API."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from flags.config import FlagsConfig
from flags.errors import UnknownFlag
from flags.features import ROUTE_PREFIX, FlagState, validate_features, with_rollout
from flags.flagsfile import FlagsFile


@dataclass(frozen=True)
class Change:
    """One flag before and after a command (`before` is None for a flag an import or `create` made,
    `after` is None for a flag `delete` removed)."""

    name: str
    before: FlagState | None
    after: FlagState | None

    @property
    def changed(self) -> bool:
        if self.before is None or self.after is None:
            return True
        return self.before.audit_view() != self.after.audit_view()


class FlagStore(Protocol):
    location: str

    def list_flags(self) -> list[FlagState]: ...

    def get_flag(self, name: str) -> FlagState: ...

    def set_enabled(self, name: str, enabled: bool) -> Change: ...

    def set_rollout(self, name: str, percentage: int, stickiness: str | None) -> Change: ...

    def kill_routes(self) -> list[Change]: ...

    def export_features(self) -> dict[str, Any]: ...

    def import_features(self, document: dict[str, Any]) -> list[Change]: ...

    def create_flag(self, state: FlagState) -> Change: ...

    def delete_flag(self, name: str, check: Callable[[FlagState], None]) -> FlagState: ...


def _find(document: dict[str, Any], name: str) -> dict[str, Any]:
    for feature in document["features"]:
        if feature["name"] == name:
            return feature
    raise UnknownFlag(name)


class FileFlagStore:
    """Flags in the flags file; every change is one locked read-modify-atomic-write."""

    def __init__(self, config: FlagsConfig) -> None:
        self.file = FlagsFile(config.flags_file, config.bootstrap_file)
        self.location = f"file {config.flags_file}"

    def list_flags(self) -> list[FlagState]:
        return sorted((FlagState.from_feature(f) for f in self.file.read()["features"]), key=lambda s: s.name)

    def get_flag(self, name: str) -> FlagState:
        return FlagState.from_feature(_find(self.file.read(), name))

    def _edit(self, name: str, edit) -> Change:
        with self.file.editing() as document:
            feature = _find(document, name)
            before = FlagState.from_feature(feature)
            edit(feature)
            return Change(name, before, FlagState.from_feature(feature))

    def set_enabled(self, name: str, enabled: bool) -> Change:
        return self._edit(name, lambda feature: feature.update(enabled=enabled))

    def set_rollout(self, name: str, percentage: int, stickiness: str | None) -> Change:
        def edit(feature: dict[str, Any]) -> None:
            feature["strategies"] = with_rollout(feature["strategies"], percentage, stickiness, name)
            feature["enabled"] = True

        return self._edit(name, edit)

    def kill_routes(self) -> list[Change]:
        changes = []
        with self.file.editing() as document:
            for feature in document["features"]:
                if feature["name"].startswith(ROUTE_PREFIX):
                    before = FlagState.from_feature(feature)
                    feature["enabled"] = False
                    changes.append(Change(feature["name"], before, FlagState.from_feature(feature)))
        return sorted(changes, key=lambda c: c.name)

    def export_features(self) -> dict[str, Any]:
        return self.file.read()

    def create_flag(self, state: FlagState) -> Change:
        """Add the flag; one that exists already is left as it is (`before` = `after`: unchanged)."""
        with self.file.editing() as document:
            for feature in document["features"]:
                if feature["name"] == state.name:
                    existing = FlagState.from_feature(feature)
                    return Change(state.name, existing, existing)
            document["features"].append(state.to_feature())
        return Change(state.name, None, state)

    def delete_flag(self, name: str, check: Callable[[FlagState], None]) -> FlagState:
        """Remove the flag after `check(state)` (raising when it is in use) under the file's lock."""
        with self.file.editing() as document:
            feature = _find(document, name)
            state = FlagState.from_feature(feature)
            check(state)
            document["features"].remove(feature)
        return state

    def import_features(self, document: dict[str, Any]) -> list[Change]:
        validate_features(document)
        changes = []
        with self.file.editing() as current:
            by_name = {f["name"]: i for i, f in enumerate(current["features"])}
            for feature in document["features"]:
                new = copy.deepcopy(feature)
                index = by_name.get(new["name"])
                before = None if index is None else FlagState.from_feature(current["features"][index])
                if index is None:
                    current["features"].append(new)
                else:
                    current["features"][index] = new
                changes.append(Change(new["name"], before, FlagState.from_feature(new)))
        return changes


def open_store(config: FlagsConfig) -> FlagStore:
    if config.uses_server:
        from flags.admin import UnleashAdminStore

        return UnleashAdminStore(config)
    return FileFlagStore(config)
