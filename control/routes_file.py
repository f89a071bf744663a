"""What the control app needs of the gateway's route table: each route's id, flag, upstreams and mode.

Read from routes.yaml itself (ROUTES_FILE), never through the gateway's code: the gateway validates the
table when it starts; here a route id is only checked to exist."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from control.errors import ControlError

REPO_DIR = Path(__file__).resolve().parent.parent
DEFAULT_ROUTES_FILE = REPO_DIR / "strangler_proxy" / "routes.yaml"


@dataclass(frozen=True)
class RouteInfo:
    id: str
    flag: str | None
    legacy: str | None
    target: str | None
    mode: str
    methods: tuple[str, ...] | None = None  # None: every method
    path: str | None = None  # the regular expression on the request path

    def matches(self, method: str, path: str) -> bool:
        """Whether a request (method, path) matches this route, as the gateway decides it."""
        if self.methods is not None and method not in self.methods:
            return False
        try:
            return bool(self.path) and re.match(self.path, path) is not None
        except re.error:
            return False

    @property
    def can_roll_out(self) -> bool:
        """A flag moves its traffic from a legacy upstream to a target one (mode `route`)."""
        return bool(self.flag and self.legacy and self.target and self.mode == "route")


def routes_path() -> Path:
    return Path(os.environ.get("ROUTES_FILE") or DEFAULT_ROUTES_FILE)


def load_route_infos(path: Path | None = None) -> dict[str, RouteInfo]:
    path = path or routes_path()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ControlError("routes_unreadable", f"cannot read the route table {path}: {exc}") from None
    defaults = document.get("defaults") or {}
    routes: dict[str, RouteInfo] = {}
    for entry in document.get("routes") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        legacy = entry["legacy"] if "legacy" in entry else defaults.get("legacy")
        routes[entry["id"]] = RouteInfo(
            id=entry["id"],
            flag=entry.get("flag"),
            legacy=legacy,
            target=entry.get("target"),
            mode=entry.get("mode") or "route",
            methods=tuple(str(m).upper() for m in entry["methods"]) if entry.get("methods") else None,
            path=entry.get("path") if isinstance(entry.get("path"), str) else None,
        )
    return routes


def route_of_flag(flag: str, routes: dict[str, RouteInfo]) -> RouteInfo | None:
    return next((r for r in routes.values() if r.flag == flag), None)


_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def expand_env(text: str, env: Mapping[str, str]) -> str:
    """`${NAME:-default}` -> the environment variable NAME, else the default (else empty)."""
    return _ENV_REFERENCE.sub(lambda m: env.get(m["name"]) or m["default"] or "", text)


def upstream_urls(path: Path | None = None, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The route table's upstreams by name, `${NAME:-default}` expanded as the gateway does (an unset
    variable without a default leaves the upstream out)."""
    path = path or routes_path()
    env = os.environ if env is None else env
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ControlError("routes_unreadable", f"cannot read the route table {path}: {exc}") from None
    urls: dict[str, str] = {}
    for name, raw in (document.get("upstreams") or {}).items():
        if not isinstance(raw, str):
            continue
        missing = [
            m["name"] for m in _ENV_REFERENCE.finditer(raw) if not env.get(m["name"]) and m["default"] is None
        ]
        if not missing:
            urls[str(name)] = expand_env(raw, env)
    return urls
