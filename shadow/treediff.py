"""Naming the differences between two normalised JSON trees, by stable path.

Objects are compared key by key, lists of equal length element by element, numbers with the path's
tolerance; DeepDiff takes over for the lists whose elements must be aligned (different lengths, or an
unordered path: ignore_order), so the common case never pays for its generality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from shadow.paths import ITEM, key_segment
from shadow.rules import TOLERANCE, UNORDERED, RouteRules

BODY = "body"
MAX_VALUE_CHARS = 200

_REPORT_KINDS = {
    "values_changed": "changed",
    "type_changes": "type",
    "dictionary_item_added": "added",
    "dictionary_item_removed": "removed",
    "iterable_item_added": "added",
    "iterable_item_removed": "removed",
}


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference: where (stable path), what kind, and both values (short; None when absent)."""

    path: str
    kind: str  # status | error | header | format | body_hash | changed | type | added | removed
    primary: Any = None
    candidate: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "primary": self.primary, "candidate": self.candidate}


_LEAVES = (str, int, float, bool, type(None))


def walk(rules: RouteRules, a: Any, b: Any, path: str, action: int, out: list[Difference]) -> None:
    """Append the differences between `a` and `b` (normalised trees at stable `path`) to `out`."""
    kind_a, kind_b = type(a), type(b)
    if kind_a is kind_b and kind_a in _LEAVES:
        if a == b:
            return
        tolerance = rules.tolerance(path) if action & TOLERANCE and kind_a in (int, float) else None
        if tolerance is None or not tolerance.within(a, b):
            out.append(Difference(path, "changed", _short(a), _short(b)))
        return
    if kind_a is dict and kind_b is dict:
        for key in a.keys() | b.keys():
            child = path + key_segment(key)
            if key not in b:
                out.append(Difference(child, "removed", _short(a[key]), None))
            elif key not in a:
                out.append(Difference(child, "added", None, _short(b[key])))
            else:
                walk(rules, a[key], b[key], child, rules.action(child), out)
        return
    if kind_a is list and kind_b is list:
        if action & UNORDERED or len(a) != len(b):
            if a != b:
                out.extend(_deep_diff(rules, a, b, path))
            return
        child = path + ITEM
        bits = rules.action(child)
        for item_a, item_b in zip(a, b, strict=True):
            walk(rules, item_a, item_b, child, bits, out)
        return
    numbers = (int, float)
    if action & TOLERANCE and kind_a in numbers and kind_b in numbers:
        tolerance = rules.tolerance(path)
        if tolerance is not None and tolerance.within(a, b):
            return
    out.append(Difference(path, "type", _short(a), _short(b)))


def stable_path(parts: list[Any], base: str = BODY) -> str:
    """DeepDiff's list-form path (keys and indices) under `base` -> our stable path."""
    return base + "".join(key_segment(p) if isinstance(p, str) else ITEM for p in parts)


class _ToleranceOperator:
    """DeepDiff custom operator: numbers at a tolerance path that are within it are equal."""

    def __init__(self, rules: RouteRules, base: str) -> None:
        self.rules = rules
        self.base = base

    def match(self, level) -> bool:
        t1, t2 = level.t1, level.t2
        return (
            type(t1) in (int, float)
            and type(t2) in (int, float)
            and bool(self.rules.action(stable_path(level.path(output_format="list"), self.base)) & TOLERANCE)
        )

    def give_up_diffing(self, level, diff_instance) -> bool:
        tolerance = self.rules.tolerance(stable_path(level.path(output_format="list"), self.base))
        return tolerance is not None and tolerance.within(level.t1, level.t2)


def _deep_diff(rules: RouteRules, left: Any, right: Any, base: str) -> list[Difference]:
    """DeepDiff of two lists at stable path `base` (per-path ignore_order and tolerance)."""
    diff = DeepDiff(
        left,
        right,
        view="tree",
        ignore_order_func=lambda level: bool(
            rules.action(stable_path(level.path(output_format="list"), base)) & UNORDERED
        ),
        custom_operators=[_ToleranceOperator(rules, base)] if rules.tolerances else None,
        verbose_level=2,
    )
    found = []
    for report, levels in diff.tree.items():
        kind = _REPORT_KINDS.get(report, report)
        for level in levels:
            found.append(
                Difference(
                    stable_path(level.path(output_format="list"), base),
                    kind,
                    _short(level.t1),
                    _short(level.t2),
                )
            )
    return found


def _short(value: Any) -> Any:
    """A JSON-safe, bounded rendering of a value for reports."""
    if isinstance(value, NotPresent):
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and len(value) <= MAX_VALUE_CHARS:
        return value
    text = orjson.dumps(value, default=str).decode() if not isinstance(value, str) else value
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
