"""Reading a YAML configuration file node by node, so that every problem names its line.

The policy and gates files are validated whole when a command starts: all problems at once, each as
`file:line: message` (FileProblems), like routes.yaml and the shadow rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from control.durations import parse_duration
from control.errors import FileProblems


def compose(path: Path) -> yaml.Node | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FileProblems(str(path), [(0, f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise FileProblems(
            str(path), [((mark.line + 1) if mark else 0, f"not valid YAML: {problem}")]
        ) from None


class NodeReader:
    """Collects problems while reading nodes; `raise_if_any()` at the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[int, str]] = []

    def problem(self, node: yaml.Node | None, message: str) -> None:
        self.problems.append(((node.start_mark.line + 1) if node is not None else 1, message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise FileProblems(self.source, self.problems)

    def mapping(self, node: yaml.Node | None, what: str, allowed: frozenset[str] | None = None):
        """The mapping's (key -> value node), keys in file order; {} and a problem when it is not one."""
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return {}
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or not key:
                self.problem(key_node, f"{what}: keys must be names")
                continue
            if key in found:
                self.problem(key_node, f"{what}: duplicate key {key!r}")
                continue
            if allowed is not None and key not in allowed:
                self.problem(key_node, f"{what}: unknown key {key!r} (known: {', '.join(sorted(allowed))})")
                continue
            found[key] = value_node
        return found

    def value(self, node: yaml.Node, what: str, convert: Callable[[Any], Any]) -> Any:
        """A scalar converted by `convert` (ValueError -> a problem, None returned)."""
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, f"{what} must be a single value")
            return None
        raw = yaml.constructor.SafeConstructor().construct_object(node)
        try:
            return convert(raw)
        except (ValueError, TypeError) as exc:
            self.problem(node, f"{what}: {exc}")
            return None

    def duration(self, node: yaml.Node, what: str) -> float | None:
        return self.value(node, what, parse_duration)

    def number(self, node: yaml.Node, what: str, *, low: float, high: float | None = None, integer=False):
        def convert(raw: Any) -> float:
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise ValueError(f"must be a number, got {raw!r}")
            if integer and not isinstance(raw, int):
                raise ValueError(f"must be a whole number, got {raw!r}")
            if raw < low or (high is not None and raw > high):
                bound = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
                raise ValueError(f"must be {bound}, got {raw!r}")
            return raw

        return self.value(node, what, convert)

    def text(self, node: yaml.Node, what: str) -> str | None:
        def convert(raw: Any) -> str:
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError(f"must be a non-empty string, got {raw!r}")
            return raw.strip()

        return self.value(node, what, convert)
