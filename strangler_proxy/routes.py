"""The route table (routes.yaml) as frozen objects, and the shared records addons leave in flow.metadata.

Parsing, validation and matching are pure functions: the addons call them at configure time and per
request, the tests call them with tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

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
    line: int = 0  # where the route starts in routes.yaml, for messages


@dataclass(frozen=True, slots=True)
class RouteTable:
    """The parsed routes.yaml: named upstreams, ordered routes (first match wins), defaults for the rest."""

    source: str
    upstreams: Mapping[str, Upstream]
    routes: tuple[Route, ...]
    default_upstream: Upstream
    default_timeout: float = 30.0
    default_bulkhead: int = 100
    flags: frozenset[str] = field(default_factory=frozenset)  # every flag the routes name


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
