"""routes.yaml -> RouteTable. Every problem is reported at once with its line (YAML node marks), so the
gateway refuses to start with a message an operator can act on. The node-level reading (types, lines,
`${NAME}`, upstream URLs) is routes_yaml.py; this module reads the sections."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from collections.abc import Mapping, Set
from pathlib import Path

import yaml

from strangler_proxy.openapi_validation import ContractError, compile_checks
from strangler_proxy.routes import (
    GATEWAY_UPSTREAM_NAME,
    READ_METHODS,
    Contract,
    Route,
    RouteTable,
    ShadowOptions,
    Upstream,
    WriteSafety,
)
from strangler_proxy.routes_yaml import NULL, NodeReader, RoutesError, describe, interpolate, parse_upstream

__all__ = ["RoutesError", "interpolate", "load_routes", "parse_routes", "parse_upstream"]

TOP_KEYS = frozenset({"upstreams", "defaults", "routes"})
DEFAULTS_KEYS = frozenset({"legacy", "timeout", "bulkhead", "breaker"})
ROUTE_KEYS = frozenset(
    {
        "id",
        "methods",
        "path",
        "legacy",
        "target",
        "flag",
        "mode",
        "fallback",
        "timeout",
        "bulkhead",
        "breaker",
        "websocket",
        "openapi",
        "shadow",
    }
)
SHADOW_KEYS = frozenset({"secondary", "candidate_repeats", "sample", "timeout", "bulkhead", "writes"})
WRITES_KEYS = frozenset({"marker", "rewrite_idempotency_key", "target_dry_run"})
OPENAPI_KEYS = frozenset({"document", "operation"})
# routes.yaml `breaker:` keys -> (kernel.resilience.BreakerConfig field, integer?)
BREAKER_KEYS = {
    "failures": ("consecutive_failures", True),
    "failure_rate": ("failure_rate", False),
    "window": ("window", False),
    "min_calls": ("min_calls", True),
    "cooldown": ("cooldown", False),
    "half_open_calls": ("half_open_calls", True),
}
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_ROUTE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
_UPSTREAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,49}$")


class _Reader(NodeReader):
    # --- sections ------------------------------------------------------------------------------------------

    def read_upstreams(self, node: yaml.Node) -> None:
        for name, url_node in self.mapping(node, "upstreams", None).items():
            if not _UPSTREAM_NAME.match(name) or name == GATEWAY_UPSTREAM_NAME:
                self.problem(
                    url_node,
                    f"upstream name {name!r}: use lower-case letters, digits, '-', '_'"
                    f" (and not the reserved {GATEWAY_UPSTREAM_NAME!r})",
                )
                continue
            raw = self.scalar(url_node, f"upstream {name!r}", "str")
            if raw is None:
                continue
            try:
                self.upstreams[name] = parse_upstream(name, interpolate(raw, self.env))
            except KeyError as exc:
                self.problem(
                    url_node,
                    f"upstream {name!r}: environment variable {exc.args[0]} is not set"
                    " and has no default (write ${NAME:-default})",
                )
            except ValueError as exc:
                self.problem(url_node, str(exc))

    def read_defaults(self, node: yaml.Node | None, at: yaml.Node) -> tuple[Upstream | None, float, int]:
        fields = self.mapping(node, "defaults", DEFAULTS_KEYS) if node is not None else {}
        legacy, timeout, bulkhead = self.upstreams.get("legacy"), 30.0, 100
        if "legacy" in fields:
            legacy = self.upstream_ref(fields["legacy"], "defaults.legacy", nullable=False)
        elif legacy is None:
            self.problem(at, "no upstream named 'legacy': define one or set defaults.legacy")
        if "timeout" in fields:
            timeout = self.positive(fields["timeout"], "defaults.timeout", integer=False) or timeout
        if "bulkhead" in fields:
            bulkhead = self.positive(fields["bulkhead"], "defaults.bulkhead", integer=True) or bulkhead
        if "breaker" in fields:
            self.default_breaker = self.read_breaker(fields["breaker"], "defaults.breaker", ())
        return legacy, float(timeout), int(bulkhead)

    def read_breaker(
        self, node: yaml.Node, what: str, inherited: tuple[tuple[str, float], ...]
    ) -> tuple[tuple[str, float], ...]:
        """A `breaker:` mapping -> BreakerConfig field overrides on top of `inherited`, sorted by name."""
        fields = self.mapping(node, what, frozenset(BREAKER_KEYS))
        overrides = dict(inherited)
        for key, value_node in fields.items():
            field_name, integer = BREAKER_KEYS[key]
            if key == "failure_rate":
                value = self.scalar(value_node, f"{what}.{key}", "float")
                if value is not None and not 0 < value <= 1:
                    self.problem(value_node, f"{what}.{key} must be greater than 0 and at most 1")
                    value = None
            else:
                value = self.positive(value_node, f"{what}.{key}", integer=integer)
            if value is not None:
                overrides[field_name] = value
        return tuple(sorted(overrides.items()))

    def read_route(
        self, node: yaml.Node, defaults: tuple[Upstream | None, float, int], seen_ids: dict[str, int]
    ) -> Route | None:
        before = len(self.problems)
        line = node.start_mark.line + 1
        fields = self.mapping(node, f"route at line {line}", ROUTE_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        name = f"route at line {line}"
        route_id = self.scalar(fields["id"], f"{name}: id", "str") if "id" in fields else None
        if "id" not in fields:
            self.problem(node, f"{name}: 'id' is required")
        elif route_id is not None:
            name = f"route {route_id!r}"
            if not _ROUTE_ID.match(route_id):
                self.problem(fields["id"], f"{name}: ids are lower-case letters, digits, '.', '_' or '-'")
            elif route_id in seen_ids:
                self.problem(fields["id"], f"{name}: duplicate id (first used at line {seen_ids[route_id]})")
            seen_ids.setdefault(route_id, fields["id"].start_mark.line + 1)

        methods = self.read_methods(fields["methods"], name) if "methods" in fields else frozenset()
        pattern = self.read_path(fields.get("path"), name, node)
        legacy, timeout, bulkhead = defaults
        if "legacy" in fields:
            legacy = self.upstream_ref(fields["legacy"], f"{name}: legacy", nullable=True)
        target = None
        if "target" in fields:
            target = self.upstream_ref(fields["target"], f"{name}: target", nullable=True)
        elif legacy is not None:
            self.problem(node, f"{name}: 'target' is required (null only where the monolith never served)")

        flag = self.read_flag(fields.get("flag"), name, route_id)
        if flag is None and "flag" not in fields and legacy is not None and target is not None:
            self.problem(
                node, f"{name}: 'flag' is required: it decides between {legacy.name} and {target.name}"
            )
        if flag is not None and target is None and "target" in fields and fields["target"].tag == NULL:
            self.problem(fields["flag"], f"{name}: a route without a target has nothing for its flag to move")

        mode = self.scalar(fields["mode"], f"{name}: mode", "str") if "mode" in fields else "route"
        if mode not in ("route", "shadow", None):
            self.problem(fields["mode"], f"{name}: mode must be 'route' or 'shadow', got {mode!r}")
        elif mode == "shadow" and None in (legacy, target, flag):
            self.problem(fields["mode"], f"{name}: a shadow route needs legacy, target and flag")

        fallback = legacy is not None and mode == "route"
        if "fallback" in fields:
            fallback = self.scalar(fields["fallback"], f"{name}: fallback", "bool")
            if fallback and legacy is None:
                self.problem(fields["fallback"], f"{name}: fallback needs a legacy upstream to fall back to")
        if "timeout" in fields:
            timeout = self.positive(fields["timeout"], f"{name}: timeout", integer=False)
        if "bulkhead" in fields:
            bulkhead = self.positive(fields["bulkhead"], f"{name}: bulkhead", integer=True)
        websocket = False
        if "websocket" in fields:
            websocket = bool(self.scalar(fields["websocket"], f"{name}: websocket", "bool"))
        contract = self.read_openapi(fields["openapi"], name) if "openapi" in fields else None
        breaker = self.default_breaker
        if "breaker" in fields:
            breaker = self.read_breaker(fields["breaker"], f"{name}: breaker", breaker)

        shadow = None
        if mode == "shadow":
            shadow = self.read_shadow(fields.get("shadow"), name, methods, fields["mode"], target)
        elif "shadow" in fields:
            self.problem(fields["shadow"], f"{name}: 'shadow' options need mode: shadow")

        if len(self.problems) > before:
            return None
        return Route(
            id=route_id,
            path=pattern,
            legacy=legacy,
            target=target,
            flag=flag,
            methods=methods,
            mode=mode,
            fallback=bool(fallback),
            timeout=float(timeout),
            bulkhead=int(bulkhead),
            breaker=breaker,
            websocket=websocket,
            openapi=contract,
            line=line,
            shadow=shadow,
        )

    def read_shadow(
        self,
        node: yaml.Node | None,
        name: str,
        methods: frozenset[str],
        at: yaml.Node,
        target: Upstream | None,
    ) -> ShadowOptions:
        """The route's `shadow:` options. A route that mirrors writes (any method but GET/HEAD/OPTIONS;
        no `methods` means every method) must declare `writes` with all three safeguards true."""
        fields = self.mapping(node, f"{name}: shadow", SHADOW_KEYS) if node is not None else {}
        options = ShadowOptions()
        if "secondary" in fields:
            secondary = self.upstream_ref(fields["secondary"], f"{name}: shadow.secondary", nullable=True)
            if secondary is not None and target is not None and secondary.name == target.name:
                self.problem(
                    fields["secondary"], f"{name}: shadow.secondary must be a legacy instance, not the target"
                )
            options = dataclasses.replace(options, secondary=secondary)
        if "candidate_repeats" in fields:
            repeats = self.scalar(fields["candidate_repeats"], f"{name}: shadow.candidate_repeats", "int")
            if repeats not in (1, 2, None):
                self.problem(fields["candidate_repeats"], f"{name}: shadow.candidate_repeats must be 1 or 2")
            options = dataclasses.replace(options, candidate_repeats=repeats or 1)
        if "sample" in fields:
            sample = self.scalar(fields["sample"], f"{name}: shadow.sample", "float")
            if sample is not None and not 0 < sample <= 100:
                self.problem(
                    fields["sample"], f"{name}: shadow.sample is a percentage: greater than 0, at most 100"
                )
            options = dataclasses.replace(options, sample=sample or 100.0)
        if "timeout" in fields:
            timeout = self.positive(fields["timeout"], f"{name}: shadow.timeout", integer=False)
            options = dataclasses.replace(options, timeout=float(timeout or options.timeout))
        if "bulkhead" in fields:
            bulkhead = self.positive(fields["bulkhead"], f"{name}: shadow.bulkhead", integer=True)
            options = dataclasses.replace(options, bulkhead=int(bulkhead or options.bulkhead))
        if "writes" in fields:
            options = dataclasses.replace(options, writes=self.read_write_safety(fields["writes"], name))
        writes = (methods or HTTP_METHODS) - READ_METHODS
        if writes and "writes" not in fields:  # a wrong `writes` declaration is reported by itself
            self.problem(
                node if node is not None else at,
                f"{name}: mode shadow would mirror writes ({', '.join(sorted(writes))}) to the target;"
                " declare how they are made safe (shadow: {writes: {marker: true,"
                " rewrite_idempotency_key: true, target_dry_run: true}}) or restrict methods to GET, HEAD,"
                " OPTIONS",
            )
        return options

    def read_openapi(self, node: yaml.Node, name: str) -> Contract | None:
        """`openapi: {document: FILE, operation: ID}`: FILE (relative to routes.yaml) must be an OpenAPI 3
        document holding the operation (any operation matching the request when ID is left out)."""
        fields = self.mapping(node, f"{name}: openapi", OPENAPI_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        if "document" not in fields:
            self.problem(node, f"{name}: openapi.document (an OpenAPI file) is required")
            return None
        document = self.scalar(fields["document"], f"{name}: openapi.document", "str")
        operation = (
            self.scalar(fields["operation"], f"{name}: openapi.operation", "str")
            if "operation" in fields
            else None
        )
        if document is None or ("operation" in fields and operation is None):
            return None
        path = Path(document) if Path(document).is_absolute() else self.base_dir / document
        try:
            compile_checks(str(path), operation)
        except ContractError as exc:
            self.problem(fields["document"], f"{name}: openapi: {exc}")
            return None
        return Contract(str(path), operation)

    def read_write_safety(self, node: yaml.Node, name: str) -> WriteSafety | None:
        fields = self.mapping(node, f"{name}: shadow.writes", WRITES_KEYS)
        if not isinstance(node, yaml.MappingNode):
            return None
        safe = True
        for key in sorted(WRITES_KEYS):
            if key not in fields:
                self.problem(node, f"{name}: shadow.writes.{key} is required (and must be true)")
                safe = False
                continue
            value = self.scalar(fields[key], f"{name}: shadow.writes.{key}", "bool")
            if value is False:
                self.problem(
                    fields[key],
                    f"{name}: shadow.writes.{key} must be true: without it a mirrored write is unsafe",
                )
            safe = safe and value is True
        return WriteSafety() if safe else None

    def read_methods(self, node: yaml.Node, name: str) -> frozenset[str]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            self.problem(node, f"{name}: methods must be a non-empty list such as [GET, HEAD]")
            return frozenset()
        methods = set()
        for method_node in node.value:
            method = self.scalar(method_node, f"{name}: method", "str")
            if method is not None and method.upper() not in HTTP_METHODS:
                self.problem(method_node, f"{name}: unknown method {method!r}")
            elif method is not None:
                methods.add(method.upper())
        return frozenset(methods)

    def read_path(self, node: yaml.Node | None, name: str, route: yaml.Node) -> re.Pattern[str] | None:
        if node is None:
            self.problem(route, f"{name}: 'path' (a regular expression) is required")
            return None
        source = self.scalar(node, f"{name}: path", "str")
        if source is None:
            return None
        if not source.startswith("^/"):
            self.problem(node, f"{name}: path {source!r} must be anchored: start it with '^/'")
            return None
        try:
            return re.compile(source)
        except re.error as exc:
            self.problem(node, f"{name}: path {source!r} is not a valid regular expression: {exc}")
            return None

    def read_flag(self, node: yaml.Node | None, name: str, route_id: object = None) -> str | None:
        if node is None:
            return None
        flag = self.scalar(node, f"{name}: flag", "str")
        if flag is not None and self.known_flags is not None and flag not in self.known_flags:
            from_route = f" --from-route {route_id}" if isinstance(route_id, str) else ""
            self.problem(
                node,
                f"{name}: flag {flag!r} does not exist in the flags store"
                f" (create it: manage.py flags create {flag}{from_route})",
            )
        return flag


def parse_routes(
    text: str,
    *,
    source: str = "routes.yaml",
    env: Mapping[str, str] | None = None,
    known_flags: Set[str] | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> RouteTable:
    """Parse and validate a route table. `base_dir`: where relative `openapi.document` paths start
    (default: the directory of `source`). `env` feeds `${NAME:-default}` in upstream URLs; `known_flags`
    are the flags the flags store holds (None: not checked). Raises RoutesError listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RoutesError(source, [(mark.line + 1 if mark else 0, f"not valid YAML: {exc}")]) from None
    if root is None:
        raise RoutesError(source, [(1, "the file is empty: it needs 'upstreams:' and 'routes:'")])
    reader = _Reader({} if env is None else env, known_flags)
    reader.base_dir = Path(source).resolve().parent if base_dir is None else Path(base_dir)
    top = reader.mapping(root, "the route table", TOP_KEYS)
    for required in ("upstreams", "routes"):
        if isinstance(root, yaml.MappingNode) and required not in top:
            reader.problem(root, f"the route table needs a '{required}:' section")
    if "upstreams" in top:
        reader.read_upstreams(top["upstreams"])
    defaults = reader.read_defaults(top.get("defaults"), top.get("upstreams", root))
    routes: list[Route] = []
    routes_node = top.get("routes")
    if routes_node is not None and not isinstance(routes_node, yaml.SequenceNode):
        reader.problem(routes_node, f"routes must be a list, got {describe(routes_node)}")
    elif routes_node is not None:
        seen_ids: dict[str, int] = {}
        routes = [r for item in routes_node.value if (r := reader.read_route(item, defaults, seen_ids))]
    if reader.problems:
        raise RoutesError(source, reader.problems)
    legacy, timeout, bulkhead = defaults
    return RouteTable(
        source=source,
        upstreams=dict(reader.upstreams),
        routes=tuple(routes),
        default_upstream=legacy,
        default_timeout=timeout,
        default_bulkhead=bulkhead,
        default_breaker=reader.default_breaker,
        flags=frozenset(r.flag for r in routes if r.flag),
    )


def load_routes(
    path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None, known_flags: Set[str] | None = None
) -> RouteTable:
    """Read and parse routes.yaml (see parse_routes); an unreadable file is a RoutesError too."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutesError(source, [(0, f"cannot read the route table: {exc}")]) from None
    table = parse_routes(text, source=source, env=os.environ if env is None else env, known_flags=known_flags)
    return dataclasses.replace(table, sha256=hashlib.sha256(raw).hexdigest())
