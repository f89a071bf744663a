"""The comparator's normalisation rules, per route: which headers are compared, which body paths are
ignored, which string shapes become placeholders, numeric tolerance, unordered lists and the noise
thresholds. The file format and its strict reader are in shadow/rules_file.py."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace

from shadow.paths import parse_pattern

BUILTIN_SHAPES: dict[str, str] = {
    "uuid": r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    "uuid_hex": r"[0-9a-f]{32}",
    "iso_timestamp": r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?",
    "http_date": r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT",
    "traceparent": r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}",
}
BODY_ROOTS = frozenset({"body"})

IGNORE, UNORDERED, TOLERANCE = 1, 2, 4


@dataclass(frozen=True, slots=True)
class Shape:
    """Whole string values matching `pattern` are compared as the placeholder `<name>`."""

    name: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Two numbers at `path` are equal when |a - b| <= max(absolute, relative * max(|a|, |b|))."""

    path: str
    absolute: float = 0.0
    relative: float = 0.0

    def within(self, a: float, b: float) -> bool:
        return abs(a - b) <= max(self.absolute, self.relative * max(abs(a), abs(b)))


@dataclass(frozen=True, slots=True)
class NoiseThresholds:
    """Diffy's thresholds, both in percent (shadow/noise.py has the formula)."""

    relative: float = 20.0
    absolute: float = 0.03


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One section of the file (defaults or a route entry), as written."""

    headers: tuple[str, ...] | None = None
    ignore: tuple[str, ...] = ()
    shapes: tuple[Shape, ...] = ()
    tolerance: tuple[Tolerance, ...] = ()
    unordered: tuple[str, ...] = ()
    noise: dict[str, float] = field(default_factory=dict)

    def then(self, other: RuleSet) -> RuleSet:
        """These rules followed by `other`'s: lists add up, headers and noise thresholds are replaced."""
        return RuleSet(
            headers=other.headers if other.headers is not None else self.headers,
            ignore=self.ignore + other.ignore,
            shapes=tuple({s.name: s for s in self.shapes + other.shapes}.values()),
            tolerance=self.tolerance + other.tolerance,
            unordered=self.unordered + other.unordered,
            noise={**self.noise, **other.noise},
        )


def _alternation(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{parse_pattern(p, roots=BODY_ROOTS).pattern})" for p in patterns))


class RouteRules:
    """The effective rules of one route, compiled. Per-path decisions are memoised: a route's responses
    have few distinct stable paths, so after warm-up each decision is one dict lookup."""

    def __init__(self, route: str, rules: RuleSet) -> None:
        self.route = route
        self.rule_set = rules
        self.headers = tuple(dict.fromkeys(h.lower() for h in (rules.headers or ())))
        self.noise = replace(NoiseThresholds(), **rules.noise)
        self.tolerances = tuple((parse_pattern(t.path, roots=BODY_ROOTS), t) for t in rules.tolerance)
        self._ignore = _alternation(rules.ignore)
        self._unordered = _alternation(rules.unordered)
        self._shapes = (
            re.compile("|".join(f"(?P<{s.name}>{s.pattern})" for s in rules.shapes)) if rules.shapes else None
        )
        self.actions: dict[str, int] = {}  # memo of action(); read directly on the hot path
        self.trivial = not (rules.ignore or rules.unordered or rules.tolerance or rules.shapes)

    def action(self, path: str) -> int:
        """Bit set of IGNORE, UNORDERED, TOLERANCE for a stable body path."""
        found = self.actions.get(path)
        if found is None:
            found = 0
            if self._ignore is not None and self._ignore.fullmatch(path):
                found |= IGNORE
            if self._unordered is not None and self._unordered.fullmatch(path):
                found |= UNORDERED
            if any(pattern.fullmatch(path) for pattern, _ in self.tolerances):
                found |= TOLERANCE
            if len(self.actions) < 100_000:
                self.actions[path] = found
        return found

    def tolerance(self, path: str) -> Tolerance | None:
        for pattern, tolerance in self.tolerances:
            if pattern.fullmatch(path):
                return tolerance
        return None

    @property
    def has_shapes(self) -> bool:
        return self._shapes is not None

    def shape(self, value: str) -> str:
        """`value`, or its shape's placeholder when the whole string has one of the route's shapes."""
        if self._shapes is None:
            return value
        match = self._shapes.fullmatch(value)
        return value if match is None else f"<{match.lastgroup}>"


@dataclass(frozen=True)
class Rules:
    source: str
    defaults: RuleSet
    routes: tuple[tuple[str, RuleSet], ...] = ()
    _compiled: dict[str, RouteRules] = field(default_factory=dict, compare=False, repr=False)

    def for_route(self, route: str) -> RouteRules:
        found = self._compiled.get(route)
        if found is None:
            merged = self.defaults
            for glob, rules in self.routes:
                if fnmatch.fnmatchcase(route, glob):
                    merged = merged.then(rules)
            found = self._compiled[route] = RouteRules(route, merged)
        return found


def default_rules() -> Rules:
    """What an empty rules file means: status and content-type compared, nothing normalised."""
    return Rules(source="(built-in)", defaults=RuleSet(headers=("content-type",)))
