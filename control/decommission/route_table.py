"""Editing one route of routes.yaml (ROUTES_FILE) line by line, so the file's comments and layout stay as
people wrote them. The gateway reads the table when it starts: `decommission apply` says so, and the
gateway picks the change up at its next start or reload.

Retiring a route's legacy side is two keys: `legacy: null`, and no `fallback` line (the gateway refuses
a fallback without a legacy upstream; without the line it defaults to none). What a retirement replaced
is returned as {key: [line offset in the route's block, the line]} and put back as it was by `restore`."""

from __future__ import annotations

import re
from pathlib import Path

from control.errors import ControlError
from control.routes_file import load_route_infos, routes_path
from kernel.files import write_atomically

_ROUTE_START = re.compile(r"^(?P<indent>\s*)-\s+id:\s*(?P<id>[^\s#]+)\s*(#.*)?$")
_KEY = re.compile(r"^(?P<indent>\s+)(?P<key>[a-z_]+):")
RETIRING = ("legacy", "fallback")


def _block(lines: list[str], route: str, path: Path) -> tuple[int, int, int]:
    """(first line, end, item indent) of the route's block."""
    start = next(
        (i for i, line in enumerate(lines) if (m := _ROUTE_START.match(line)) and m["id"] == route), None
    )
    if start is None:
        raise ControlError("routes_unreadable", f"{path}: cannot find the line `- id: {route}` to edit")
    indent = len(_ROUTE_START.match(lines[start])["indent"])
    end = start + 1
    while end < len(lines):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#") and len(lines[end]) - len(lines[end].lstrip()) <= indent:
            break
        end += 1
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1  # the blank lines after the block belong to the file, not the route
    return start, end, indent


def _key_line(lines: list[str], start: int, end: int, key: str) -> int | None:
    for i in range(start + 1, end):
        match = _KEY.match(lines[i])
        if match and match["key"] == key:
            return i
    return None


def retire_legacy(route: str, path: Path | None = None) -> dict[str, list] | None:
    """`legacy: null` and no `fallback` line; the lines replaced (None: the legacy side was already none)."""
    path = Path(path or routes_path())
    routes = load_route_infos(path)
    if route not in routes:
        raise ControlError("unknown_route", f"no route {route!r} in {path}")
    if routes[route].legacy is None:
        return None
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start, end, indent = _block(lines, route, path)
    replaced: dict[str, list] = {}
    legacy_at = _key_line(lines, start, end, "legacy")
    fallback_at = _key_line(lines, start, end, "fallback")
    if fallback_at is not None:
        replaced["fallback"] = [fallback_at - start, lines[fallback_at]]
    if legacy_at is not None:
        replaced["legacy"] = [legacy_at - start, lines[legacy_at]]
        lines[legacy_at] = f"{' ' * (indent + 2)}legacy: null\n"
    else:
        lines.insert(start + 1, f"{' ' * (indent + 2)}legacy: null\n")
        replaced["legacy"] = [1, None]
        if fallback_at is not None:
            fallback_at += 1
    if fallback_at is not None:
        del lines[fallback_at]
    _write_checked(path, lines, route, expect_legacy=None)
    return replaced


def restore_legacy(route: str, replaced: dict[str, list], legacy: str, path: Path | None = None) -> bool:
    """Put back the lines `retire_legacy` replaced; False when the legacy side is already `legacy`."""
    path = Path(path or routes_path())
    routes = load_route_infos(path)
    if route not in routes:
        raise ControlError("unknown_route", f"no route {route!r} in {path}")
    if routes[route].legacy == legacy:
        return False
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start, end, indent = _block(lines, route, path)
    legacy_at = _key_line(lines, start, end, "legacy")
    original = (replaced.get("legacy") or [None, None])[1] or f"{' ' * (indent + 2)}legacy: {legacy}\n"
    if legacy_at is None:
        lines.insert(start + 1, original)
    elif (replaced.get("legacy") or [None, None])[1] is None:
        del lines[legacy_at]  # apply added the line; without it the route takes defaults.legacy again
    else:
        lines[legacy_at] = original
    fallback = replaced.get("fallback")
    start, end, indent = _block(lines, route, path)
    if fallback and _key_line(lines, start, end, "fallback") is None:
        lines.insert(min(start + int(fallback[0]), len(lines)), fallback[1])
    _write_checked(path, lines, route, expect_legacy=legacy)
    return True


def _write_checked(path: Path, lines: list[str], route: str, *, expect_legacy: str | None) -> None:
    before = path.read_text(encoding="utf-8")
    write_atomically(path, "".join(lines))
    if load_route_infos(path)[route].legacy != expect_legacy:  # the edit must mean what it says
        write_atomically(path, before)
        raise ControlError("routes_unreadable", f"{path}: editing {route}'s legacy side did not take")
