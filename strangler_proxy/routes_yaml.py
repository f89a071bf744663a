"""The YAML side of routes.yaml: nodes to values with the line of every problem (RoutesError), `${NAME}`
interpolation and upstream URLs. routes_parser.py reads the sections with it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from strangler_proxy.routes import Upstream

MAX_TIMEOUT = 600.0
_ENV_REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
TAG = "tag:yaml.org,2002:"
NULL = TAG + "null"


class RoutesError(ValueError):
    """routes.yaml is unusable. `problems` are (line, message) pairs; str() names the file and each line."""

    def __init__(self, source: str, problems: list[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(problems)
        lines = [f"{source}:{line}: {message}" for line, message in self.problems]
        super().__init__("invalid route table:\n" + "\n".join(lines))


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Expand `${NAME}` and `${NAME:-default}` (the default also applies when NAME is set but empty);
    KeyError(NAME) when NAME is unset and has no default."""

    def expand(match: re.Match[str]) -> str:
        current = env.get(match["name"], "")
        if current:
            return current
        if match["default"] is None:
            raise KeyError(match["name"])
        return match["default"]

    return _ENV_REFERENCE.sub(expand, value)


def parse_upstream(name: str, url: str) -> Upstream:
    """`scheme://host[:port]` -> Upstream; ValueError says what is wrong with the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"upstream {name!r}: {url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"upstream {name!r}: {url!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"upstream {name!r}: {url!r} has no host")
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError(f"upstream {name!r}: {url!r} must be scheme://host[:port] and nothing else")
    default_port = 443 if parts.scheme == "https" else 80
    return Upstream(name=name, scheme=parts.scheme, host=parts.hostname, port=port or default_port)


def describe(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.tag.removeprefix(TAG)} {node.value!r}"


class NodeReader:
    """Walks the composed YAML, turning nodes into values and collecting (line, message) problems."""

    def __init__(self, env: Mapping[str, str], known_flags: Set[str] | None) -> None:
        self.env = env
        self.known_flags = known_flags
        self.problems: list[tuple[int, str]] = []
        self.upstreams: dict[str, Upstream] = {}
        self.default_breaker: tuple[tuple[str, float], ...] = ()
        self.base_dir = Path.cwd()  # where relative file names in the table start

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append((node.start_mark.line + 1, message))

    def mapping(self, node: yaml.Node, what: str, allowed: frozenset[str] | None) -> dict[str, yaml.Node]:
        """{key: value node}; keys that are not names, repeated or not `allowed` are problems."""
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping, got {describe(node)}")
            return {}
        entries: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key_node.tag != TAG + "str":
                self.problem(key_node, f"{what}: keys must be names, got {describe(key_node)}")
            elif key in entries:
                self.problem(key_node, f"{what}: duplicate key {key!r}")
            elif allowed is not None and key not in allowed:
                self.problem(key_node, f"{what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
            else:
                entries[key] = value_node
        return entries

    def scalar(self, node: yaml.Node, what: str, *kinds: str) -> object:
        """The value of a scalar node whose YAML type is one of `kinds` (an int passes as a float);
        None (with a problem recorded unless the node is an accepted null) otherwise."""
        kind = node.tag.removeprefix(TAG) if isinstance(node, yaml.ScalarNode) else ""
        if kind == "int" and "float" in kinds:
            kind = "float"
        if kind not in kinds:
            self.problem(node, f"{what} must be {' or '.join(kinds)}, got {describe(node)}")
            return None
        value = yaml.SafeLoader("").construct_object(node) if kind != "null" else None
        return float(value) if kind == "float" else value

    def positive(self, node: yaml.Node, what: str, *, integer: bool) -> float | int | None:
        value = self.scalar(node, what, "int" if integer else "float")
        if value is not None and not (0 < value <= (1_000_000 if integer else MAX_TIMEOUT)):
            self.problem(node, f"{what} must be greater than 0{'' if integer else ' and at most 600'}")
            return None
        return value

    def upstream_ref(self, node: yaml.Node, what: str, *, nullable: bool) -> Upstream | None:
        name = self.scalar(node, what, *(("str", "null") if nullable else ("str",)))
        if name is not None and name not in self.upstreams:
            known = ", ".join(sorted(self.upstreams)) or "none"
            self.problem(node, f"{what}: unknown upstream {name!r} (known: {known})")
            return None
        return self.upstreams.get(name) if name is not None else None
