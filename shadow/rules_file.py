"""The rules file: YAML (settings.SHADOW_RULES, default shadow/rules.yaml), validated strictly.

    version: 1
    defaults:                        # apply to every route
      headers: [content-type]        # response headers compared (status is always compared)
      shapes: [uuid, iso_timestamp]  # string values of these shapes become a placeholder (<uuid>, ...)
      ignore: [body.meta.request_id] # body paths never compared
      unordered: [body.tags]         # lists compared as multisets
      tolerance:                     # numbers equal within max(absolute, relative * larger magnitude)
        - {path: 'body.items[*].score', absolute: 0.01, relative: 0.001}
      noise: {relative: 20, absolute: 0.03}   # Diffy thresholds, percent (shadow/noise.py)
    routes:                          # every entry whose `route` (an id or glob) matches, in file order
      - route: catalog.*
        ignore: ['body.results[*].etag']   # quote paths with * inside [ ] (YAML aliases)

For a route, the defaults come first; each matching entry then adds its ignore/unordered/tolerance/shapes
and replaces `headers` and the noise thresholds it names. Paths use shadow/paths.py's syntax. Every
problem is reported at once with its line.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from shadow.errors import RulesError
from shadow.paths import parse_pattern
from shadow.rules import BODY_ROOTS, BUILTIN_SHAPES, Rules, RuleSet, Shape, Tolerance, default_rules

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "rules.yaml"
TOP_KEYS = frozenset({"version", "defaults", "routes"})
RULE_KEYS = frozenset({"headers", "ignore", "shapes", "tolerance", "unordered", "noise"})
ROUTE_KEYS = RULE_KEYS | {"route"}
_SHAPE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def load_rules(path: str | Path | None = None) -> Rules:
    """Read and validate a rules file (default: shadow/rules.yaml; the CLI passes settings.SHADOW_RULES)."""
    path = Path(path) if path is not None else DEFAULT_RULES_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(path), [(0, f"cannot read the rules file: {exc.strerror or exc}")]) from None
    return parse_rules(text, source=str(path))


class _Map(dict):
    line: int = 0
    lines: dict[str, int]


class _Seq(list):
    line: int = 0
    lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and lists remember the line of each entry."""

    duplicates: list[tuple[int, str]]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    mapping = _Map()
    mapping.line, mapping.lines = node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            loader.duplicates.append((line, f"keys must be names, got {key!r}"))
            continue
        if key in mapping:
            loader.duplicates.append((line, f"duplicate key {key!r}"))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = line
    return mapping


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    items = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    items.line, items.lines = node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value]
    return items


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def parse_rules(text: str, *, source: str = "<rules>") -> Rules:
    loader = _LineLoader(text)
    loader.duplicates = []
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        hint = " (quote paths that contain * inside [ ] lists)" if "alias" in str(exc) else ""
        problem = f"not valid YAML{hint}: {exc}"
        raise RulesError(source, [((mark.line + 1) if mark else 0, problem)]) from None
    finally:
        loader.dispose()
    reader = _Reader(loader.duplicates)
    rules = reader.document(document)
    if reader.problems:
        raise RulesError(source, reader.problems)
    return Rules(source=source, defaults=rules[0], routes=rules[1])


class _Reader:
    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = list(problems)

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def keys(self, mapping: _Map, allowed: frozenset[str], what: str) -> None:
        for key in mapping:
            if key not in allowed:
                self.problem(
                    mapping.lines[key], f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
                )

    def document(self, doc: Any) -> tuple[RuleSet, tuple[tuple[str, RuleSet], ...]]:
        if doc is None:
            return default_rules().defaults, ()
        if not isinstance(doc, _Map):
            self.problem(getattr(doc, "line", 1), "the rules file must be a mapping")
            return RuleSet(), ()
        self.keys(doc, TOP_KEYS, "rules file")
        if doc.get("version", 1) != 1:
            self.problem(doc.lines["version"], "version must be 1")
        defaults = default_rules().defaults
        if "defaults" in doc:
            defaults = self.rule_set(doc["defaults"], doc.lines["defaults"], "defaults", RULE_KEYS)
            if defaults.headers is None:
                defaults = replace(defaults, headers=("content-type",))
        routes = []
        entries = doc.get("routes") or _Seq()
        if not isinstance(entries, list):
            self.problem(doc.lines["routes"], "routes must be a list")
            entries = _Seq()
        for index, entry in enumerate(entries):
            line = entries.lines[index] if isinstance(entries, _Seq) else doc.lines["routes"]
            rules = self.rule_set(entry, line, f"routes[{index}]", ROUTE_KEYS)
            glob = entry.get("route") if isinstance(entry, dict) else None
            if not isinstance(glob, str) or not glob.strip():
                self.problem(line, f"routes[{index}]: 'route' (a route id or glob) is required")
                continue
            routes.append((glob, rules))
        return defaults, tuple(routes)

    def rule_set(self, section: Any, line: int, what: str, allowed: frozenset[str]) -> RuleSet:
        if not isinstance(section, _Map):
            self.problem(line, f"{what} must be a mapping")
            return RuleSet()
        self.keys(section, allowed, what)
        at = section.lines.get
        headers = None
        if "headers" in section:
            headers = tuple(self.strings(section["headers"], at("headers"), f"{what}.headers"))
            for name in headers:
                if not _HEADER_NAME.fullmatch(name):
                    self.problem(at("headers"), f"{what}.headers: {name!r} is not a header name")
        return RuleSet(
            headers=headers,
            ignore=self.paths(section, "ignore", what),
            unordered=self.paths(section, "unordered", what),
            shapes=self.shapes(section.get("shapes"), at("shapes", line), f"{what}.shapes"),
            tolerance=self.tolerances(section.get("tolerance"), at("tolerance", line), f"{what}.tolerance"),
            noise=self.noise(section.get("noise"), at("noise", line), f"{what}.noise"),
        )

    def strings(self, value: Any, line: int, what: str) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.problem(line, f"{what} must be a list of non-empty strings")
            return []
        return list(value)

    def paths(self, section: _Map, key: str, what: str) -> tuple[str, ...]:
        line = section.lines.get(key, section.line)
        value = section.get(key)
        items = self.strings(value, line, f"{what}.{key}")
        good = []
        for index, path in enumerate(items):
            item_line = value.lines[index] if isinstance(value, _Seq) else line
            try:
                parse_pattern(path, roots=BODY_ROOTS)
            except ValueError as exc:
                self.problem(item_line, f"{what}.{key}: {exc}")
            else:
                good.append(path)
        return tuple(good)

    def entries(self, value: Any, line: int, what: str, expected: str) -> list[tuple[Any, int]]:
        """(item, its line) of a list section; a problem when it is not a list."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(line, f"{what} must be a list of {expected}")
            return []
        return [(item, value.lines[i] if isinstance(value, _Seq) else line) for i, item in enumerate(value)]

    def shapes(self, value: Any, line: int, what: str) -> tuple[Shape, ...]:
        shapes = []
        for item, item_line in self.entries(value, line, what, "shape names or {name, pattern} mappings"):
            name, pattern = (item, None) if isinstance(item, str) else (None, None)
            if isinstance(item, _Map):
                self.keys(item, frozenset({"name", "pattern"}), what)
                name, pattern = item.get("name"), item.get("pattern")
            if not isinstance(name, str) or not _SHAPE_NAME.fullmatch(name):
                self.problem(item_line, f"{what}: a shape needs a name of lower-case letters, digits, '_'")
                continue
            if pattern is None:
                if name not in BUILTIN_SHAPES:
                    known = ", ".join(sorted(BUILTIN_SHAPES))
                    self.problem(item_line, f"{what}: unknown built-in shape {name!r} (known: {known})")
                    continue
                pattern = BUILTIN_SHAPES[name]
            if not isinstance(pattern, str):
                self.problem(item_line, f"{what}: shape {name!r}: pattern must be a string")
                continue
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                self.problem(item_line, f"{what}: shape {name!r}: bad regular expression: {exc}")
                continue
            if compiled.groups:
                self.problem(item_line, f"{what}: shape {name!r}: use (?:...) instead of capturing groups")
                continue
            shapes.append(Shape(name, pattern))
        return tuple(shapes)

    def tolerances(self, value: Any, line: int, what: str) -> tuple[Tolerance, ...]:
        found = []
        for item, item_line in self.entries(value, line, what, "{path, absolute, relative} mappings"):
            if not isinstance(item, _Map):
                self.problem(item_line, f"{what}: each entry is a mapping {{path, absolute, relative}}")
                continue
            self.keys(item, frozenset({"path", "absolute", "relative"}), what)
            try:
                parse_pattern(item.get("path"), roots=BODY_ROOTS)
            except ValueError as exc:
                self.problem(item_line, f"{what}: {exc}")
                continue
            bounds = {}
            for key in ("absolute", "relative"):
                number = item.get(key, 0.0)
                if isinstance(number, bool) or not isinstance(number, int | float) or number < 0:
                    self.problem(item.lines.get(key, item_line), f"{what}: {key} must be a number >= 0")
                    continue
                bounds[key] = float(number)
            if len(bounds) < 2:
                continue
            if not any(bounds.values()):
                self.problem(item_line, f"{what}: give absolute and/or relative greater than 0")
                continue
            found.append(Tolerance(item["path"], **bounds))
        return tuple(found)

    def noise(self, value: Any, line: int, what: str) -> dict[str, float]:
        if value is None:
            return {}
        if not isinstance(value, _Map):
            self.problem(line, f"{what} must be a mapping {{relative, absolute}} (percent)")
            return {}
        self.keys(value, frozenset({"relative", "absolute"}), what)
        found = {}
        for key in ("relative", "absolute"):
            if key not in value:
                continue
            number = value[key]
            if isinstance(number, bool) or not isinstance(number, int | float) or not 0 <= number <= 100:
                self.problem(value.lines[key], f"{what}.{key} must be a percentage from 0 to 100")
                continue
            found[key] = float(number)
        return found
