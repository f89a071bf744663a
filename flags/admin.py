"""Flags on a real Unleash server, changed through its Admin API (projects/<p>/features/...)."""

import copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from flags.config import FlagsConfig
from flags.errors import FlagsError, InvalidFeatures, UnknownFlag
from flags.features import ROUTE_PREFIX, FlagState, comparable_strategy, validate_features, with_rollout
from flags.store import Change

_STRATEGY_FIELDS = ("name", "parameters", "constraints", "segments", "variants", "title", "disabled")


def server_strategy(strategy: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy in a form Unleash 8 accepts. Unleash 8 no longer has the `userWithId` strategy type; its
    equivalent is a 100% flexibleRollout with the constraint `userId IN [ids]` (what Unleash suggests)."""
    body = {k: copy.deepcopy(strategy[k]) for k in _STRATEGY_FIELDS if k in strategy}
    body.setdefault("parameters", {})
    body.setdefault("constraints", [])
    if body["name"] == "userWithId":
        ids = [i.strip() for i in str(body["parameters"].get("userIds", "")).split(",") if i.strip()]
        body["name"] = "flexibleRollout"
        body["parameters"] = {"rollout": "100", "stickiness": "default", "groupId": ""}
        body["constraints"] = [
            {"contextName": "userId", "operator": "IN", "values": ids, "inverted": False},
            *body["constraints"],
        ]
    body["parameters"] = {k: str(v) for k, v in body["parameters"].items()}
    return body


class UnleashAdminStore:
    """Reads and changes flags of one project and environment; the environment is the client token's."""

    def __init__(self, config: FlagsConfig) -> None:
        if not config.admin_token:
            raise FlagsError(
                "invalid_configuration",
                "UNLEASH_ADMIN_TOKEN is required to change flags on an Unleash server",
            )
        self.config = config
        self.location = f"unleash {config.unleash_url} (project {config.project}, {config.environment})"
        self._features = f"{config.api_url}/admin/projects/{quote(config.project)}/features"
        self._session = requests.Session()
        self._session.headers.update({"Authorization": config.admin_token, "Accept": "application/json"})

    # --- HTTP -------------------------------------------------------------------------------------------
    def _call(self, method: str, url: str, *, json: Any = None, flag: str | None = None) -> Any:
        try:
            response = self._session.request(method, url, json=json, timeout=self.config.request_timeout)
        except requests.RequestException as exc:
            raise FlagsError(
                "unleash_unreachable", f"cannot reach Unleash at {self.config.unleash_url}: {exc}"
            ) from None
        if response.status_code == 404 and flag is not None:
            raise UnknownFlag(flag)
        if response.status_code in (401, 403):
            raise FlagsError(
                "unleash_forbidden",
                f"Unleash refused the admin token ({response.status_code}) for {method} {url}",
            )
        if response.status_code >= 400:
            try:
                message = response.json().get("message", response.text)
            except ValueError:
                message = response.text
            raise FlagsError(
                "unleash_error", f"Unleash answered {response.status_code} to {method} {url}: {message}"
            )
        if not response.content:
            return None
        return response.json()

    def _feature_url(self, name: str) -> str:
        return f"{self._features}/{quote(name, safe='')}"

    def _strategies_url(self, name: str) -> str:
        return f"{self._feature_url(name)}/environments/{quote(self.config.environment)}/strategies"

    # --- reads ------------------------------------------------------------------------------------------
    def _names(self) -> list[str]:
        return sorted(f["name"] for f in self._call("GET", self._features)["features"])

    def _raw(self, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """The admin view of a flag, and its entry for our environment."""
        feature = self._call("GET", self._feature_url(name), flag=name)
        for environment in feature.get("environments", []):
            if environment["name"] == self.config.environment:
                return feature, environment
        raise FlagsError(
            "unleash_error",
            f"flag {name!r} has no environment {self.config.environment!r}"
            f" in project {self.config.project!r}",
        )

    def _state(self, name: str) -> FlagState:
        feature, environment = self._raw(name)
        return FlagState.from_feature(
            {
                "name": feature["name"],
                "type": feature.get("type"),
                "description": feature.get("description"),
                "enabled": environment["enabled"],
                "strategies": [s for s in environment.get("strategies", []) if not s.get("disabled")],
            }
        )

    def list_flags(self) -> list[FlagState]:
        return [self._state(name) for name in self._names()]

    def get_flag(self, name: str) -> FlagState:
        return self._state(name)

    def export_features(self) -> dict[str, Any]:
        return {"version": 2, "features": [state.to_feature() for state in self.list_flags()]}

    # --- writes -----------------------------------------------------------------------------------------
    def _switch(self, name: str, enabled: bool) -> None:
        action = "on" if enabled else "off"
        env = quote(self.config.environment)
        self._call("POST", f"{self._feature_url(name)}/environments/{env}/{action}", flag=name)

    def _sync_strategies(self, name: str, current: list[dict[str, Any]], wanted: Iterable[Mapping]) -> None:
        """Make the environment's strategies `wanted`: strategies keeping an `id` are updated in place."""
        wanted = list(wanted)
        keep = {s["id"] for s in wanted if s.get("id")}
        for strategy in current:
            if strategy["id"] not in keep:
                self._call("DELETE", f"{self._strategies_url(name)}/{strategy['id']}", flag=name)
        by_id = {s["id"]: s for s in current}
        for strategy in wanted:
            body = server_strategy(strategy)
            if strategy.get("id"):
                if server_strategy(by_id[strategy["id"]]) != body:
                    self._call("PUT", f"{self._strategies_url(name)}/{strategy['id']}", json=body, flag=name)
            else:
                self._call("POST", self._strategies_url(name), json=body, flag=name)

    def set_enabled(self, name: str, enabled: bool) -> Change:
        before = self._state(name)
        self._switch(name, enabled)
        return Change(name, before, self._state(name))

    def set_rollout(self, name: str, percentage: int, stickiness: str | None) -> Change:
        before = self._state(name)
        _feature, environment = self._raw(name)
        current = environment.get("strategies", [])
        self._sync_strategies(name, current, with_rollout(current, percentage, stickiness, name))
        self._switch(name, True)
        return Change(name, before, self._state(name))

    def kill_routes(self) -> list[Change]:
        changes = []
        for name in self._names():
            if name.startswith(ROUTE_PREFIX):
                before = self._state(name)
                if before.enabled:
                    self._switch(name, False)
                changes.append(Change(name, before, self._state(name)))
        return changes

    def create_flag(self, state: FlagState) -> Change:
        """Create the flag in the project (off in our environment, with its strategies); one that exists
        already is left as it is."""
        try:
            existing = self._state(state.name)
        except UnknownFlag:
            pass
        else:
            return Change(state.name, existing, existing)
        metadata = {
            "name": state.name,
            "type": state.type,
            "description": state.description,
            "impressionData": False,
        }
        self._call("POST", self._features, json=metadata)
        self._sync_strategies(state.name, [], state.strategies)
        return Change(state.name, None, self._state(state.name))

    def delete_flag(self, name: str, check: Callable[[FlagState], None]) -> FlagState:
        """Archive the flag, then delete it from the archive (so the name can be created again)."""
        state = self._state(name)
        check(state)
        self._call("DELETE", self._feature_url(name), flag=name)
        self._call("DELETE", f"{self.config.api_url}/admin/archive/{quote(name, safe='')}", flag=name)
        return state

    def _check_importable(self, document: Mapping[str, Any]) -> None:
        known = {
            s["name"] for s in self._call("GET", f"{self.config.api_url}/admin/strategies")["strategies"]
        }
        for feature in document["features"]:
            for strategy in feature["strategies"]:
                if server_strategy(strategy)["name"] not in known:
                    raise InvalidFeatures(
                        f"flag {feature['name']!r}: this Unleash server has no strategy {strategy['name']!r}"
                    )

    def import_features(self, document: dict[str, Any]) -> list[Change]:
        validate_features(document)
        self._check_importable(document)
        changes = []
        for feature in document["features"]:
            name = feature["name"]
            metadata = {
                "name": name,
                "type": feature.get("type") or "release",
                "description": feature.get("description") or "",
                "impressionData": bool(feature.get("impressionData", False)),
            }
            try:
                before: FlagState | None = self._state(name)
            except UnknownFlag:
                before = None
                self._call("POST", self._features, json=metadata)
            else:
                if (before.type, before.description) != (metadata["type"], metadata["description"]):
                    self._call("PUT", self._feature_url(name), json=metadata | {"stale": False}, flag=name)
            _raw, environment = self._raw(name)
            current = environment.get("strategies", [])
            differ = [comparable_strategy(server_strategy(s)) for s in current] != [
                comparable_strategy(server_strategy(s)) for s in feature["strategies"]
            ]
            # Never serve a half-synced strategy list: a flag being changed is off (legacy) meanwhile.
            if environment["enabled"] and (differ or not feature["enabled"]):
                self._switch(name, False)
            if differ:
                self._sync_strategies(name, current, feature["strategies"])
            if feature["enabled"]:
                self._switch(name, True)
            changes.append(Change(name, before, self._state(name)))
        return changes
