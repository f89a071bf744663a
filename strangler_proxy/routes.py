"""The route table (routes.yaml) as frozen objects, and the shared records addons leave in flow.metadata.

Parsing, validation and matching are pure functions: the addons call them at configure time and per
request, the tests call them with tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import unquote

Mode = Literal["route", "shadow", "default"]
IdentitySource = Literal["session", "legacy_token", "jwt", "anonymous"]


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where a request can go: a name from routes.yaml and the address it resolves to."""

    name: str
    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class WriteSafety:
    """How a shadow route makes mirrored writes safe (routes.yaml `shadow.writes`; every field must be
    true): the copy carries X-Strangler-Shadow: 1, its Idempotency-Key is rewritten, and the target
    promises to run shadow traffic in dry-run/sandbox mode."""

    marker: bool = True
    rewrite_idempotency_key: bool = True
    target_dry_run: bool = True


@dataclass(frozen=True, slots=True)
class ShadowOptions:
    """The mirrored copies of a shadow route (routes.yaml `shadow:`): an optional `secondary` legacy
    instance (noise), the candidate asked `candidate_repeats` times (2: candidate-only noise), a sticky
    `sample` percentage on top of the flag, the copies' own `timeout` and `bulkhead`, and `writes`."""

    secondary: Upstream | None = None
    candidate_repeats: int = 1
    sample: float = 100.0
    timeout: float = 5.0
    bulkhead: int = 20
    writes: WriteSafety | None = None


# A shadow route that accepts any other method mirrors writes and must declare `shadow.writes`.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Contract:
    """The OpenAPI document (a file) and, optionally, the one operation a route's requests must follow."""

    document: str
    operation: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """One entry of the route table. `legacy` is None for paths the monolith never served (/api/v2)."""

    id: str
    path: re.Pattern[str]
    legacy: Upstream | None
    target: Upstream | None
    flag: str | None
    methods: frozenset[str] = frozenset()  # empty: every method
    mode: Literal["route", "shadow"] = "route"
    fallback: bool = True
    timeout: float = 30.0
    bulkhead: int = 100
    breaker: tuple[tuple[str, float], ...] = ()  # BreakerConfig fields this route sets (defaults included)
    websocket: bool = False  # the client's Upgrade: websocket reaches the upstream (else it is dropped)
    openapi: Contract | None = None  # strict payload validation at the edge (openapi_validation.py)
    line: int = 0  # where the route starts in routes.yaml, for messages
    shadow: ShadowOptions | None = None  # mode "shadow" only (defaults when the route has no `shadow:`)


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The parsed routes.yaml: named upstreams, ordered routes (first match wins), defaults for the rest."""

    source: str
    upstreams: Mapping[str, Upstream]
    routes: tuple[Route, ...]
    default_upstream: Upstream
    default_timeout: float = 30.0
    default_bulkhead: int = 100
    default_breaker: tuple[tuple[str, float], ...] = ()  # routes.yaml defaults.breaker
    flags: frozenset[str] = field(default_factory=frozenset)  # every flag the routes name
    sha256: str = ""  # of the file's bytes as loaded (the audit log records it)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where the Router sent a request and why (flow.metadata["strangler.decision"])."""

    route_id: str | None
    mode: Mode
    flag: str | None
    flag_enabled: bool
    upstream: Upstream
    fallback: Upstream | None
    shadow: Upstream | None
    timeout: float
    bulkhead: int
    idempotent: bool
    breaker: tuple[tuple[str, float], ...] = ()  # the route's breaker thresholds (see Route.breaker)
    # The route's legacy upstream (None: unmatched, or a path the monolith never served): a target that
    # answers a legacy contract in its place trusts what the monolith trusts (the signed identity).
    legacy: Upstream | None = None


@dataclass(frozen=True, slots=True)
class Identity:
    """Who sent a request, as far as the edge knows (flow.metadata["strangler.identity"])."""

    user_id: str | None
    username: str | None
    roles: tuple[str, ...]
    source: IdentitySource


ANONYMOUS = Identity(user_id=None, username=None, roles=(), source="anonymous")


@dataclass(frozen=True, slots=True)
class TraceContext:
    """The request id and the W3C trace context of this hop (flow.metadata["strangler.trace"])."""

    request_id: str
    trace_id: str
    span_id: str
    traceparent: str


GATEWAY_UPSTREAM_NAME = "gateway"
# Not an address: the upstream recorded when the gateway answers by itself (e.g. an /api/v2 area that
# no service serves yet). Nothing ever connects to it.
GATEWAY = Upstream(name=GATEWAY_UPSTREAM_NAME, scheme="http", host="gateway.invalid", port=0)
# RFC 9110 section 9.2.2: repeating these has the same effect as sending them once.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})


class UnsafePath(ValueError):
    """The request target is malformed or tries to leave its path (traversal, NUL, empty segments)."""


# On the raw target: only visible ASCII; no backslash; no encoded slash or backslash (they would let
# a path look different to the gateway and to the upstream).
_RAW_UNSAFE = re.compile(r"[^\x21-\x7e]|\\|%2[fF]|%5[cC]")
# On the decoded path: control characters, backslash, empty segments, dot segments.
_DECODED_UNSAFE = re.compile(r"[\x00-\x1f\x7f\\]|//|/\.\.?(?:/|$)")


def route_path(target: str) -> str:
    """The path routes are matched against: the request target without its query, percent-decoded.
    Raises UnsafePath for anything a well-behaved client never sends (so nothing is forwarded)."""
    path = target.split("?", 1)[0]
    if not path.startswith("/"):
        raise UnsafePath("the request target must be an absolute path")
    if _RAW_UNSAFE.search(path):
        raise UnsafePath("the path holds characters or escapes that are not allowed")
    if "%" in path:
        try:
            path = unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise UnsafePath("the path's percent-escapes are not UTF-8") from None
    if _DECODED_UNSAFE.search(path):
        raise UnsafePath("the path holds a dot segment, an empty segment or a control character")
    return path


# --- matching and deciding ------------------------------------------------------------------------------


def match_route(routes: tuple[Route, ...], method: str, path: str) -> Route | None:
    """The first route whose methods and path pattern accept the request; None sends it to legacy."""
    for route in routes:
        if (not route.methods or method in route.methods) and route.path.match(path):
            return route
    return None


def is_idempotent(method: str, has_idempotency_key: bool) -> bool:
    """May the request be sent again elsewhere (a fallback)? RFC 9110 idempotent methods, or any
    request that carries an Idempotency-Key (the monolith deduplicates checkout and refunds by it)."""
    return method in IDEMPOTENT_METHODS or has_idempotency_key


def decide(table: RouteTable, route: Route | None, *, flag_enabled: bool, idempotent: bool) -> Decision:
    """Where a request goes, given its route (None: unmatched) and whether the route's flag is on.

    - unmatched: legacy (mode "default");
    - shadow: legacy answers; the target gets a mirrored copy when the flag is on;
    - route: the target when the flag is on (or when the route has no flag and no legacy: an /api/v2
      area served only by its service), else legacy; with neither, the gateway itself (GATEWAY) answers.
    """
    if route is None:
        return Decision(
            None,
            "default",
            None,
            False,
            table.default_upstream,
            None,
            None,
            table.default_timeout,
            table.default_bulkhead,
            idempotent,
            table.default_breaker,
        )
    flag_on = flag_enabled and route.flag is not None
    shadow = None
    fallback = None
    if route.mode == "shadow":
        upstream = route.legacy or GATEWAY
        shadow = route.target if flag_on else None
    elif route.target is not None and (flag_on or (route.flag is None and route.legacy is None)):
        upstream = route.target
        fallback = route.legacy if route.fallback else None
    else:
        upstream = route.legacy or GATEWAY
    return Decision(
        route.id,
        route.mode,
        route.flag,
        flag_on,
        upstream,
        fallback,
        shadow,
        route.timeout,
        route.bulkhead,
        idempotent,
        route.breaker,
        route.legacy,
    )
