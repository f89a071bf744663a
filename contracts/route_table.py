"""The gateway's route table as the other tools read it: each route's id, flag, upstreams, method and path,
straight from routes.yaml (ROUTES_FILE), never through the gateway's code. The gateway validates the
table when it starts (strangler_proxy/routes_parser.py); here entries that are not routes are skipped."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from contracts.errors import ApplicationError

DEFAULT_ROUTES_FILE = Path(__file__).resolve().parent.parent / "strangler_proxy" / "routes.yaml"


@dataclass(frozen=True)
class RouteEntry:
    id: str
    flag: str | None
    legacy: str | None
    target: str | None
    mode: str
    methods: tuple[str, ...]
    path: str | None


def routes_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("ROUTES_FILE") or DEFAULT_ROUTES_FILE)


def route_entries(path: Path | None = None) -> dict[str, RouteEntry]:
    """The routes of the table at `path` (default: ROUTES_FILE) by id; ApplicationError
    `routes_unreadable` when the file cannot be read or parsed."""
    path = path or routes_path()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ApplicationError("routes_unreadable", f"cannot read the route table {path}: {exc}") from None
    defaults = document.get("defaults") or {} if isinstance(document, dict) else {}
    entries: dict[str, RouteEntry] = {}
    for entry in document.get("routes") or [] if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        methods = entry.get("methods") or []
        entries[entry["id"]] = RouteEntry(
            id=entry["id"],
            flag=entry.get("flag") if isinstance(entry.get("flag"), str) else None,
            legacy=entry["legacy"] if "legacy" in entry else defaults.get("legacy"),
            target=entry.get("target"),
            mode=entry.get("mode") or "route",
            methods=tuple(str(m) for m in methods) if isinstance(methods, list) else (),
            path=entry.get("path") if isinstance(entry.get("path"), str) else None,
        )
    return entries
