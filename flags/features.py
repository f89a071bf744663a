"""Unleash's `/api/client/features` format: validation, flag names, and the edits the commands make.

Only the shape is checked here; what a strategy means is left to Unleash's own engine (yggdrasil), which
also gets the last word on whether a document loads.
"""

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from yggdrasil_engine.engine import UnleashEngine

from flags.errors import InvalidFeatures

ROUTE_PREFIX = "route."
# `route.<route id>` for gateway routes, `monolith.<area>.<switch>` for switches inside the monolith.
FLAG_NAME = re.compile(
    r"^(route\.[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*"
    r"|monolith\.[a-z0-9][a-z0-9_]*\.[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*)$"
)
STICKINESS_CHOICES = ("userId", "sessionId", "default")
BUILTIN_STRATEGIES = frozenset(
    {
        "default",
        "flexibleRollout",
        "userWithId",
        "remoteAddress",
        "applicationHostname",
        "gradualRolloutUserId",
        "gradualRolloutSessionId",
        "gradualRolloutRandom",
    }
)
CONSTRAINT_OPERATORS = frozenset(
    {
        "IN",
        "NOT_IN",
        "STR_CONTAINS",
        "STR_STARTS_WITH",
        "STR_ENDS_WITH",
        "NUM_EQ",
        "NUM_GT",
        "NUM_GTE",
        "NUM_LT",
        "NUM_LTE",
        "DATE_AFTER",
        "DATE_BEFORE",
        "SEMVER_EQ",
        "SEMVER_GT",
        "SEMVER_LT",
    }
)
FLAG_TYPES = frozenset({"release", "experiment", "operational", "kill-switch", "permission"})


def check_flag_name(name: str) -> str:
    if not isinstance(name, str) or not FLAG_NAME.match(name):
        raise InvalidFeatures(
            f"flag name {name!r} is not `route.<route id>` or `monolith.<area>.<switch>` "
            "(lower case letters, digits, '_' and '-', parts separated by dots)"
        )
    return name


def parse_percentage(raw: Any) -> int:
    """A rollout percentage: a whole number from 0 to 100 (as Unleash stores it, a string is fine)."""
    text = str(raw).strip()
    if not re.fullmatch(r"\d{1,3}", text) or int(text) > 100:
        raise InvalidFeatures(f"rollout percentage must be a whole number from 0 to 100, got {raw!r}")
    return int(text)


def _fail(where: str, message: str) -> None:
    raise InvalidFeatures(f"{where}: {message}")


def _check_constraint(where: str, constraint: Any) -> None:
    if not isinstance(constraint, Mapping):
        _fail(where, "a constraint must be an object")
    if not isinstance(constraint.get("contextName"), str) or not constraint["contextName"]:
        _fail(where, "a constraint needs a contextName")
    if constraint.get("operator") not in CONSTRAINT_OPERATORS:
        _fail(where, f"unknown constraint operator {constraint.get('operator')!r}")
    values = constraint.get("values")
    if values is not None and (
        not isinstance(values, list) or not all(isinstance(v, str | int | float) for v in values)
    ):
        _fail(where, "constraint values must be a list of strings")
    for key in ("inverted", "caseInsensitive"):
        if key in constraint and not isinstance(constraint[key], bool):
            _fail(where, f"constraint {key} must be true or false")


def _check_strategy(where: str, strategy: Any) -> None:
    if not isinstance(strategy, Mapping):
        _fail(where, "a strategy must be an object")
    name = strategy.get("name")
    if name not in BUILTIN_STRATEGIES:
        _fail(where, f"unknown strategy {name!r} (known: {', '.join(sorted(BUILTIN_STRATEGIES))})")
    parameters = strategy.get("parameters", {})
    if not isinstance(parameters, Mapping) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in parameters.values()
    ):
        _fail(where, "strategy parameters must be an object of strings")
    if name == "flexibleRollout":
        if "rollout" not in parameters:
            _fail(where, "flexibleRollout needs a rollout parameter")
        try:
            parse_percentage(parameters["rollout"])
        except InvalidFeatures as exc:
            _fail(where, exc.message)
        stickiness = parameters.get("stickiness", "default")
        if not isinstance(stickiness, str) or not stickiness:
            _fail(where, "flexibleRollout stickiness must be a context field name")
    if name == "userWithId" and not isinstance(parameters.get("userIds"), str):
        _fail(where, "userWithId needs a userIds parameter (comma-separated user ids)")
    if name == "remoteAddress" and not isinstance(parameters.get("IPs"), str):
        _fail(where, "remoteAddress needs an IPs parameter (comma-separated addresses)")
    constraints = strategy.get("constraints", [])
    if not isinstance(constraints, list):
        _fail(where, "strategy constraints must be a list")
    for i, constraint in enumerate(constraints):
        _check_constraint(f"{where}, constraint {i}", constraint)


def _check_feature(where: str, feature: Any) -> None:
    if not isinstance(feature, Mapping):
        _fail(where, "a feature must be an object")
    try:
        check_flag_name(feature.get("name"))
    except InvalidFeatures as exc:
        _fail(where, exc.message)
    if not isinstance(feature.get("enabled"), bool):
        _fail(where, "enabled must be true or false")
    if feature.get("type", "release") not in FLAG_TYPES:
        _fail(where, f"unknown flag type {feature.get('type')!r}")
    for key in ("stale", "impressionData"):
        if key in feature and not isinstance(feature[key], bool):
            _fail(where, f"{key} must be true or false")
    if "description" in feature and not isinstance(feature["description"], str | None):
        _fail(where, "description must be a string")
    strategies = feature.get("strategies")
    if not isinstance(strategies, list):
        _fail(where, "strategies must be a list")
    for i, strategy in enumerate(strategies):
        _check_strategy(f"{where}, strategy {i}", strategy)
    if not isinstance(feature.get("variants", []), list):
        _fail(where, "variants must be a list")


def validate_features(document: Any, source: str = "") -> dict[str, Any]:
    """Check a whole `/api/client/features` document; return it, or raise InvalidFeatures naming the spot."""
    try:
        if not isinstance(document, Mapping):
            _fail("document", "must be a JSON object with a features list")
        if not isinstance(document.get("version", 2), int):
            _fail("document", "version must be an integer")
        features = document.get("features")
        if not isinstance(features, list):
            _fail("document", "must have a features list")
        seen: set[str] = set()
        for i, feature in enumerate(features):
            name = feature.get("name") if isinstance(feature, Mapping) else None
            _check_feature(f"feature {i} ({name})" if name else f"feature {i}", feature)
            if name in seen:
                _fail(f"feature {i} ({name})", "duplicate flag name")
            seen.add(name)
        # The engine that evaluates the flags must accept the document too.
        try:
            warnings = UnleashEngine().take_state(json.dumps(document))
        except Exception as exc:  # the engine raises whatever its parser raised
            _fail("document", f"Unleash's engine refused it: {exc}")
        if warnings:
            _fail("document", f"Unleash's engine could not parse every feature: {warnings}")
    except InvalidFeatures as exc:
        raise InvalidFeatures(exc.message, source) from None
    return dict(document)


def parse_features(text: str, source: str = "") -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidFeatures(f"not JSON: {exc}", source) from None
    return validate_features(document, source)


def _strategy_view(strategy: Mapping[str, Any]) -> dict[str, Any]:
    """A strategy as the client API shows it (server-side ids and sort orders dropped)."""
    view: dict[str, Any] = {
        "name": strategy["name"],
        "parameters": {k: str(v) for k, v in (strategy.get("parameters") or {}).items()},
        "constraints": [dict(c) for c in strategy.get("constraints") or []],
    }
    if strategy.get("segments"):
        view["segments"] = list(strategy["segments"])
    if strategy.get("variants"):
        view["variants"] = list(strategy["variants"])
    return view


@dataclass(frozen=True)
class FlagState:
    """One flag as the commands see it: what the audit records as `before` and `after`."""

    name: str
    enabled: bool
    strategies: tuple[dict[str, Any], ...]
    type: str = "release"
    description: str = ""

    @classmethod
    def from_feature(cls, feature: Mapping[str, Any]) -> "FlagState":
        return cls(
            name=feature["name"],
            enabled=bool(feature["enabled"]),
            strategies=tuple(_strategy_view(s) for s in feature.get("strategies") or []),
            type=feature.get("type") or "release",
            description=feature.get("description") or "",
        )

    def to_feature(self) -> dict[str, Any]:
        """The flag in `/api/client/features` form."""
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "enabled": self.enabled,
            "stale": False,
            "impressionData": False,
            "project": "default",
            "strategies": [copy.deepcopy(s) for s in self.strategies],
            "variants": [],
        }

    def audit_view(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "strategies": [copy.deepcopy(s) for s in self.strategies]}

    @property
    def rollout(self) -> int | None:
        for strategy in self.strategies:
            if strategy["name"] == "default":
                return 100
            if strategy["name"] == "flexibleRollout" and not strategy["constraints"]:
                return int(strategy["parameters"].get("rollout", "0"))
        return None

    def summary(self) -> str:
        """One line a person reads: `off`, `on: 100%`, `on: 50% by userId; users alice,bob; 1 constraint`."""
        if not self.enabled:
            return "off"
        if not self.strategies:
            return "on: everyone"
        parts = []
        for strategy in self.strategies:
            params = strategy["parameters"]
            match strategy["name"]:
                case "default":
                    text = "everyone"
                case "flexibleRollout":
                    text = f"{params.get('rollout', '0')}% by {params.get('stickiness', 'default')}"
                case "userWithId":
                    text = f"users {params.get('userIds', '')}"
                case "remoteAddress":
                    text = f"addresses {params.get('IPs', '')}"
                case other:
                    text = other
            if strategy["constraints"]:
                count = len(strategy["constraints"])
                text += f" if {count} constraint{'s' if count > 1 else ''}"
            parts.append(text)
        return "on: " + "; ".join(parts)


def with_rollout(
    strategies: Iterable[Mapping[str, Any]], percentage: int, stickiness: str | None, group_id: str
):
    """The strategies after `flags rollout`: the first flexibleRollout takes the new percentage (and
    stickiness, if given); `default` strategies go, since they would let everyone in; others stay."""
    result: list[dict[str, Any]] = []
    placed = False
    for strategy in strategies:
        if strategy["name"] == "default":
            continue
        strategy = copy.deepcopy(dict(strategy))
        if strategy["name"] == "flexibleRollout" and not placed:
            params = dict(strategy.get("parameters") or {})
            params["rollout"] = str(percentage)
            params["stickiness"] = stickiness or params.get("stickiness") or "default"
            params.setdefault("groupId", group_id)
            strategy["parameters"] = params
            placed = True
        result.append(strategy)
    if not placed:
        result.append(
            {
                "name": "flexibleRollout",
                "parameters": {
                    "rollout": str(percentage),
                    "stickiness": stickiness or "default",
                    "groupId": group_id,
                },
                "constraints": [],
            }
        )
    return result


def comparable_strategy(strategy: Mapping[str, Any]) -> tuple:
    """What a strategy decides, without server bookkeeping (ids, titles, sort orders, default flags)."""
    constraints = tuple(
        (
            c["contextName"],
            c["operator"],
            tuple(str(v) for v in c.get("values") or ()),
            str(c.get("value", "")),
            bool(c.get("inverted", False)),
            bool(c.get("caseInsensitive", False)),
        )
        for c in strategy.get("constraints") or ()
    )
    parameters = tuple(sorted((k, str(v)) for k, v in (strategy.get("parameters") or {}).items()))
    return (strategy["name"], parameters, constraints, tuple(strategy.get("segments") or ()))


def new_flag(name: str, *, description: str = "", flag_type: str = "release") -> FlagState:
    """A flag as `flags create` makes it: off, and a 100% flexibleRollout (sticky by default), so `flags on`
    moves everyone and `flags rollout NAME PCT` moves PCT% of users."""
    check_flag_name(name)
    if flag_type not in FLAG_TYPES:
        raise InvalidFeatures(f"flag type {flag_type!r} is not one of {', '.join(sorted(FLAG_TYPES))}")
    return FlagState(
        name=name,
        enabled=False,
        strategies=tuple(_strategy_view(s) for s in with_rollout([], 100, "default", name)),
        type=flag_type,
        description=description,
    )
