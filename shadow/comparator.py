"""Diff one shadow pair: status, selected headers and the body, after the route's normalisation rules.

Fast path first: each JSON body is parsed and normalised once (ignored paths dropped, shaped values
replaced by placeholders, unordered lists sorted) and serialised canonically. Only when the canonical
bytes of two answers differ are the trees walked side by side to name the differing paths: objects key
by key, lists of equal length element by element, numbers with the path's tolerance; DeepDiff takes
over for the lists whose elements must be aligned (different lengths: ignore_order for unordered paths,
otherwise its insert/remove detection). Bodies that are not JSON, or were capped at the capture limit,
are compared by sha256.

Differences are reported by stable path (shadow/paths.py: list indices as [*]) so they count per field.
Noise paths come from the same comparison of primary vs secondary, and of candidate vs candidate2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from deepdiff import DeepDiff
from deepdiff.helper import NotPresent

from shadow.pairs import Exchange, ShadowPair
from shadow.paths import ITEM, key_segment
from shadow.rules import IGNORE, TOLERANCE, UNORDERED, RouteRules, Rules

BODY = "body"
MAX_DIFFERENCES = 50  # details kept per comparison; the paths are always complete
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


@dataclass(frozen=True, slots=True)
class PairResult:
    pair_id: str
    route: str
    trace_id: str
    matched: bool
    paths: tuple[str, ...]
    differences: tuple[Difference, ...]
    noise_paths: tuple[str, ...] = ()
    noise_checked: bool = False  # the pair carried a secondary or a second candidate answer
    primary_ms: float = 0.0
    candidate_ms: float = 0.0
    captured_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "pair_id": self.pair_id,
            "route": self.route,
            "trace_id": self.trace_id,
            "matched": self.matched,
            "paths": list(self.paths),
            "differences": [d.to_dict() for d in self.differences],
            "noise_paths": list(self.noise_paths),
            "noise_checked": self.noise_checked,
            "primary_ms": self.primary_ms,
            "candidate_ms": self.candidate_ms,
            "captured_at": self.captured_at,
        }


@dataclass(slots=True)
class _Prepared:
    """One answer made comparable (lazily: the body is normalised only when it has to be)."""

    exchange: Exchange
    headers: dict[str, str | None]
    body_kind: str = ""  # json | hash | invalid_json
    tree: Any = None
    canonical: bytes = b""
    ready: bool = field(default=False)


class Comparator:
    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def compare(self, pair: ShadowPair) -> PairResult:
        rules = self.rules.for_route(pair.route)
        primary = self._prepare(rules, pair.primary)
        candidate = self._prepare(rules, pair.candidate)
        differences = self._diff(rules, primary, candidate)
        noise: set[str] = set()
        if pair.secondary is not None:
            noise.update(d.path for d in self._diff(rules, primary, self._prepare(rules, pair.secondary)))
        if pair.candidate2 is not None:
            noise.update(d.path for d in self._diff(rules, candidate, self._prepare(rules, pair.candidate2)))
        paths = tuple(sorted({d.path for d in differences}))
        return PairResult(
            pair_id=pair.id,
            route=pair.route,
            trace_id=pair.trace_id,
            matched=not differences,
            paths=paths,
            differences=tuple(differences[:MAX_DIFFERENCES]),
            noise_paths=tuple(sorted(noise)),
            noise_checked=pair.secondary is not None or pair.candidate2 is not None,
            primary_ms=pair.primary.elapsed_ms,
            candidate_ms=pair.candidate.elapsed_ms,
            captured_at=pair.captured_at,
        )

    # --- one answer against another -------------------------------------------------------------------------

    def _prepare(self, rules: RouteRules, exchange: Exchange) -> _Prepared:
        headers = exchange.headers
        return _Prepared(
            exchange,
            {name: _shaped(rules, headers.get(name)) for name in rules.headers},
        )

    def _diff(self, rules: RouteRules, left: _Prepared, right: _Prepared) -> list[Difference]:
        a, b = left.exchange, right.exchange
        if a.error or b.error:
            return [] if a.error == b.error else [Difference("error", "error", a.error, b.error)]
        found = []
        if a.status != b.status:
            found.append(Difference("status", "status", a.status, b.status))
        for name, value in left.headers.items():
            if value != right.headers[name]:
                found.append(Difference(f"headers.{name}", "header", value, right.headers[name]))
        if a.body_sha256 == b.body_sha256 and a.body_size == b.body_size:
            return found  # byte-identical bodies: nothing to normalise
        if a.body_truncated or b.body_truncated:  # only the hashes describe whole bodies
            found.append(Difference(BODY, "body_hash", a.body_sha256, b.body_sha256))
            return found
        _ready(rules, left)
        _ready(rules, right)
        if left.body_kind != right.body_kind:
            found.append(Difference(BODY, "format", left.body_kind, right.body_kind))
        elif left.body_kind != "json":
            found.append(Difference(BODY, "body_hash", a.body_sha256, b.body_sha256))
        elif left.canonical != right.canonical:
            body: list[Difference] = []
            _walk(rules, left.tree, right.tree, BODY, rules.action(BODY), body)
            body.sort(key=lambda d: d.path)
            found.extend(body)
        return found


def _shaped(rules: RouteRules, value: str | None) -> str | None:
    return None if value is None else rules.shape(value)


def _ready(rules: RouteRules, side: _Prepared) -> None:
    if side.ready:
        return
    side.ready = True
    exchange = side.exchange
    if exchange.body_truncated or not exchange.is_json or not exchange.body:
        side.body_kind = "hash"
        return
    try:
        parsed = orjson.loads(exchange.body)
    except orjson.JSONDecodeError:
        side.body_kind = "invalid_json"
        return
    side.body_kind = "json"
    side.tree = parsed if rules.trivial else _normalise(rules, parsed, BODY, rules.action(BODY))
    side.canonical = orjson.dumps(side.tree, option=orjson.OPT_SORT_KEYS)


def _sort_key(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)


def _normalise(rules: RouteRules, value: Any, path: str, action: int) -> Any:
    """`value` at stable `path` (whose rule bits are `action`) with the route's rules applied."""
    kind = type(value)
    if kind is str:
        return rules.shape(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            child = path + key_segment(key)
            bits = rules.action(child)
            if not bits & IGNORE:
                out[key] = _normalise(rules, item, child, bits)
        return out
    if kind is list:
        child = path + ITEM
        bits = rules.action(child)
        if bits & IGNORE:
            return []
        items = [_normalise(rules, item, child, bits) for item in value]
        if action & UNORDERED:
            items.sort(key=_sort_key)
        return items
    return value


_LEAVES = (str, int, float, bool, type(None))


def _walk(rules: RouteRules, a: Any, b: Any, path: str, action: int, out: list[Difference]) -> None:
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
                _walk(rules, a[key], b[key], child, rules.action(child), out)
        return
    if kind_a is list and kind_b is list:
        if action & UNORDERED or len(a) != len(b):
            if a != b:
                out.extend(_deep_diff(rules, a, b, path))
            return
        child = path + ITEM
        bits = rules.action(child)
        for item_a, item_b in zip(a, b, strict=True):
            _walk(rules, item_a, item_b, child, bits, out)
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
