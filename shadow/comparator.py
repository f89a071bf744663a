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

from shadow.pairs import Exchange, ShadowPair
from shadow.paths import ITEM, key_segment
from shadow.rules import IGNORE, UNORDERED, RouteRules, Rules
from shadow.treediff import BODY, Difference, walk

MAX_DIFFERENCES = 50  # details kept per comparison; the paths are always complete
# Copies the gateway itself did not send (load shedding): they say nothing about the upstream.
GATEWAY_REFUSALS = frozenset({"bulkhead_full"})


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
    skipped: str = ""  # why the pair could not be compared (then it is no sample: neither match nor not)

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
            "skipped": self.skipped,
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
        """A pair whose legacy answer is missing (legacy failed, or its body was streamed past the
        gateway) or whose copy the gateway shed is `skipped`: there is nothing to judge the candidate by.
        Noise answers the gateway shed are left out of the noise comparisons."""
        skipped = _skip_reason(pair)
        if skipped:
            return _skipped(pair, skipped)
        rules = self.rules.for_route(pair.route)
        primary = self._prepare(rules, pair.primary)
        candidate = self._prepare(rules, pair.candidate)
        differences = self._diff(rules, primary, candidate)
        noise: set[str] = set()
        secondary, candidate2 = _usable(pair.secondary), _usable(pair.candidate2)
        if secondary is not None:
            noise.update(d.path for d in self._diff(rules, primary, self._prepare(rules, secondary)))
        if candidate2 is not None:
            noise.update(d.path for d in self._diff(rules, candidate, self._prepare(rules, candidate2)))
        paths = tuple(sorted({d.path for d in differences}))
        return PairResult(
            pair_id=pair.id,
            route=pair.route,
            trace_id=pair.trace_id,
            matched=not differences,
            paths=paths,
            differences=tuple(differences[:MAX_DIFFERENCES]),
            noise_paths=tuple(sorted(noise)),
            noise_checked=secondary is not None or candidate2 is not None,
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
            walk(rules, left.tree, right.tree, BODY, rules.action(BODY), body)
            body.sort(key=lambda d: d.path)
            found.extend(body)
        return found


def _skip_reason(pair: ShadowPair) -> str:
    if pair.primary.error:
        return f"primary: {pair.primary.error}"
    if pair.candidate.error in GATEWAY_REFUSALS:
        return f"candidate: {pair.candidate.error}"
    return ""


def _skipped(pair: ShadowPair, reason: str) -> PairResult:
    return PairResult(
        pair_id=pair.id,
        route=pair.route,
        trace_id=pair.trace_id,
        matched=False,
        paths=(),
        differences=(),
        primary_ms=pair.primary.elapsed_ms,
        candidate_ms=pair.candidate.elapsed_ms,
        captured_at=pair.captured_at,
        skipped=reason,
    )


def _usable(exchange: Exchange | None) -> Exchange | None:
    return None if exchange is None or exchange.error in GATEWAY_REFUSALS else exchange


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
    """`value` at stable `path` (whose rule bits are `action`) with the route's rules applied. The hot
    path of the comparator: locals instead of attribute lookups, no call for numbers, booleans and null."""
    actions, lookup = rules.actions, rules.action
    shape = rules.shape if rules.has_shapes else None

    def leaf_or_tree(item: Any, child: str, bits: int) -> Any:
        kind = type(item)
        if kind is str:
            return shape(item) if shape is not None else item
        if kind is dict or kind is list:
            return tree(item, child, bits)
        return item

    def tree(node: Any, at: str, bits_here: int) -> Any:
        if type(node) is dict:
            out = {}
            for key, item in node.items():
                child = at + key_segment(key)
                bits = actions.get(child)
                if bits is None:
                    bits = lookup(child)
                if not bits & IGNORE:
                    out[key] = leaf_or_tree(item, child, bits)
            return out
        child = at + ITEM
        bits = actions.get(child)
        if bits is None:
            bits = lookup(child)
        if bits & IGNORE:
            return []
        items = [leaf_or_tree(item, child, bits) for item in node]
        if bits_here & UNORDERED:
            items.sort(key=_sort_key)
        return items

    return leaf_or_tree(value, path, action)
