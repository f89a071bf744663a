"""Router addon: picks the upstream of every request from the route table, the route's flag and the
request's context, rewrites the request to it, and records the decision.

It works in `requestheaders`, before the body is read, so a streamed (large) body already flows to the
chosen upstream. The route table is read and checked once, at configure time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

from mitmproxy import ctx, exceptions, http
from mitmproxy.net.http import url

from flags import FlagContext, Flags, FlagsConfig
from strangler_proxy.canonical import Refused
from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.guard import UPGRADE_KEY, request_target
from strangler_proxy.routes import (
    ANONYMOUS,
    GATEWAY,
    Decision,
    RouteTable,
    decide,
    is_idempotent,
    match_route,
)
from strangler_proxy.routes_parser import RoutesError, load_routes

logger = logging.getLogger(__name__)

DEFAULT_ROUTES_FILE = Path(__file__).resolve().parent / "routes.yaml"
HEALTH_PATH = "/_strangler/health"  # answered by the gateway itself; never forwarded
API_V2_PREFIX = "/api/v2"
FLAGS_WAIT = 10.0  # seconds an Unleash-backed store may take to deliver its first features at start

IDENTITY_KEY = "strangler.identity"
SESSION_KEY = "strangler.session_id"  # EdgeIdentity: a hash of the client's credential
DECISION_KEY = "strangler.decision"
FORWARD_KEY = "strangler.forward"  # the Forwarder's result (its upstream_name is the final upstream)
ROUTE_HEADER = "X-Strangler-Route"
UPSTREAM_HEADER = "X-Strangler-Upstream"


def load_routes_with_flags(
    path: str | os.PathLike[str], flags: Flags, env: Mapping[str, str] | None = None
) -> RouteTable:
    """Load routes.yaml, checking its flags against `flags`. A server-backed store fetches its first
    features in the background, so it gets FLAGS_WAIT seconds to deliver the flags the routes name."""
    try:
        named = load_routes(path, env=env).flags
    except RoutesError:
        named = frozenset()  # the file has problems anyway: report them all, unknown flags included
    deadline = time.monotonic() + (FLAGS_WAIT if flags.backend == "unleash" else 0)
    known = frozenset(flags.known_flags())
    while not named <= known and time.monotonic() < deadline:
        time.sleep(0.05)
        known = frozenset(flags.known_flags())
    return load_routes(path, env=env, known_flags=known)


class FlagMemo:
    """Remembers a flag's answer for one context for `ttl` seconds. Unleash's engine costs ~60 us per call
    (JSON both ways over FFI), most of a routed request's gateway CPU; a user's requests within `ttl` reuse
    the answer. A flag change therefore shows up to `ttl` later than the store has it (0 disables)."""

    def __init__(self, flags: Flags, *, ttl: float = 0.25, max_entries: int = 50_000, clock=time.monotonic):
        self.flags, self.ttl, self.max_entries, self.clock = flags, ttl, max_entries, clock
        self._answers: dict[tuple, tuple[float, bool]] = {}

    def is_enabled(self, name: str, context: FlagContext) -> bool:
        if self.ttl <= 0:
            return self.flags.is_enabled(name, context)
        key = (name, context.user_id, context.session_id, context.remote_address)
        now = self.clock()
        remembered = self._answers.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        answer = self.flags.is_enabled(name, context)
        if remembered is None and len(self._answers) >= self.max_entries:
            del self._answers[next(iter(self._answers))]  # the oldest insertion goes first
        self._answers[key] = (now + self.ttl, answer)
        return answer


def flag_context(flow: http.HTTPFlow) -> FlagContext:
    """Who is asking, for the flag: the user (EdgeIdentity), the credential's hash as the session, and the
    client address (Unleash's stickiness falls back from userId to sessionId)."""
    identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
    peer = flow.client_conn.peername
    return FlagContext(
        user_id=identity.user_id,
        session_id=flow.metadata.get(SESSION_KEY),
        remote_address=peer[0] if peer else None,
    )


def rewrite_to(request: http.Request, upstream) -> None:
    """Point the request at `upstream`: scheme, host, port and the Host header (or HTTP/2 :authority).
    Already pointed there (mitmproxy's reverse mode points every request at the monolith): nothing to do."""
    data = request.data
    scheme = upstream.scheme.encode()
    authority = url.hostport(upstream.scheme, upstream.host, upstream.port)
    if data.host == upstream.host and data.port == upstream.port and data.scheme == scheme:
        if request.host_header != authority:  # the client's Host (kept for X-Forwarded-Host) goes
            request.host_header = authority
        return
    data.scheme, data.host, data.port = scheme, upstream.host, upstream.port  # one Host update, below
    if data.authority:  # absolute-form request target (HTTP/1) or :authority (HTTP/2)
        data.authority = authority.encode()
    request.host_header = authority


class Router:
    """Options: `strangler_routes` (routes.yaml; ROUTES_FILE), `strangler_flags_file` (the flags file when no
    Unleash server is configured; FLAGS_FILE), `strangler_flag_memo_ttl` (see FlagMemo). A bad route table
    stops the gateway at start."""

    def __init__(self, flags: Flags | None = None) -> None:
        self.flags = flags
        self._owns_flags = flags is None
        self.table: RouteTable | None = None
        self.memo: FlagMemo | None = FlagMemo(flags) if flags is not None else None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_routes",
            str,
            os.environ.get("ROUTES_FILE") or str(DEFAULT_ROUTES_FILE),
            "The gateway's route table (routes.yaml).",
        )
        loader.add_option(
            "strangler_flags_file",
            str,
            "",
            "The flags file the routes' flags are read from (default: FLAGS_FILE or var/flags.json); "
            "ignored when UNLEASH_URL points at an Unleash server.",
        )
        loader.add_option(
            "strangler_flag_memo_ttl",
            float,
            0.25,
            "Seconds a flag's answer for one user/session/address is reused (0: ask the flags client every "
            "time). A flag change shows up to this much later.",
        )

    def configure(self, updated: set[str]) -> None:
        if self.flags is None or "strangler_flags_file" in updated:
            self._open_flags()
        if self.memo is None or self.memo.flags is not self.flags or "strangler_flag_memo_ttl" in updated:
            if ctx.options.strangler_flag_memo_ttl < 0:
                raise exceptions.OptionsError("strangler_flag_memo_ttl must be 0 or more")
            self.memo = FlagMemo(self.flags, ttl=ctx.options.strangler_flag_memo_ttl)
        if self.table is None or updated & {"strangler_routes", "strangler_flags_file"}:
            try:
                self.table = load_routes_with_flags(ctx.options.strangler_routes, self.flags)
            except RoutesError as exc:
                raise exceptions.OptionsError(str(exc)) from None
            logger.info(
                "route table %s: %d routes, unmatched requests go to %s",
                self.table.source,
                len(self.table.routes),
                self.table.default_upstream.url,
            )

    def _open_flags(self) -> None:
        if not self._owns_flags:
            return
        config = FlagsConfig.from_env()
        if ctx.options.strangler_flags_file and not config.uses_server:
            config = dataclasses.replace(config, flags_file=Path(ctx.options.strangler_flags_file))
        if self.flags is not None:
            self.flags.close()
        try:
            self.flags = Flags(config)
        except Exception as exc:  # the flags store is unusable: the gateway cannot decide anything
            raise exceptions.OptionsError(f"cannot open the flags store: {exc}") from None

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        request = flow.request
        try:
            path = request_target(flow).route_path  # RequestGuard made it canonical
        except Refused as exc:
            answer(flow, error_response(400, exc.code, exc.message))
            return
        if path == HEALTH_PATH:
            body = {"status": "ok", "routes": len(self.table.routes)}
            answer(flow, http.Response.make(200, json.dumps(body), {"Content-Type": "application/json"}))
            return
        table = self.table
        route = match_route(table.routes, request.method, path)
        flag_enabled = False
        if route is not None and route.flag is not None:
            flag_enabled = self.memo.is_enabled(route.flag, flag_context(flow))
        idempotent = is_idempotent(request.method, "Idempotency-Key" in request.headers)
        decision = decide(table, route, flag_enabled=flag_enabled, idempotent=idempotent)
        flow.metadata[DECISION_KEY] = decision
        if decision.upstream is GATEWAY:
            answer(flow, self._unavailable(path, decision))
            return
        upgrade = flow.metadata.get(UPGRADE_KEY)
        if upgrade is not None and route is not None and route.websocket and upgrade.lower() == "websocket":
            request.headers["Upgrade"] = "websocket"  # RequestGuard took it off; only such routes get it back
            request.headers["Connection"] = "Upgrade"
        rewrite_to(request, decision.upstream)

    @staticmethod
    def _unavailable(path: str, decision: Decision) -> http.Response:
        if path == API_V2_PREFIX or path.startswith(API_V2_PREFIX + "/"):
            return error_response(
                404,
                "api_version_not_available",
                "This part of API v2 is not available yet; use /api/v1.",
                {"route": decision.route_id},
            )
        return error_response(
            404, "route_not_available", "No upstream serves this path yet.", {"route": decision.route_id}
        )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is None or flow.response is None:
            return
        forward = flow.metadata.get(FORWARD_KEY)
        upstream = getattr(forward, "upstream_name", None) or decision.upstream.name
        headers = flow.response.headers
        headers[ROUTE_HEADER] = decision.route_id or "default"
        headers[UPSTREAM_HEADER] = upstream

    def done(self) -> None:
        if self._owns_flags and self.flags is not None:
            self.flags.close()
            self.flags = None
