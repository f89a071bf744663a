"""Dual auth at the gateway: JWT access tokens from the auth service, beside the legacy credentials.

Two addons (strangler_proxy/addon.py places them):

- `JwtAuth`, right after EdgeIdentity: a request with `Authorization: Bearer <JWT>` is verified LOCALLY
  (`contracts.tokens.verify_access_token`: ES256 pinned before any key is looked at, kid, iss,
  aud, exp/nbf) against the auth service's JWKS through `contracts.jwks.JwksCache` (kept for
  the JWKS max-age, refetched on an unknown kid at most every few seconds, the last good set kept while
  the auth service is down). A refused token is answered by the gateway itself: 401 with the reason as
  `code` (`token_expired`, `unknown_kid`, ...) and `WWW-Authenticate: Bearer error="invalid_token"`; it
  is never forwarded. A good one becomes the flow's Identity (source `jwt`) whose user id is the token's
  `legacy_user_id`, so a percentage rollout buckets a user the same with a JWT as with a legacy session.
- `IdentityHeader`, once the body is in (`request` hook, after LoginStickiness): a JWT request routed to
  the monolith loses its Bearer header and gains `X-Strangler-Identity` (contracts.identity: HMAC-SHA256
  over the legacy user id, roles, scope, the token's jti, a one-time id, a ~30 s expiry, the method, the
  path, the raw query and the body's SHA-256; the verifiers refuse a value seen before). A request routed
  to a service keeps its Bearer token; when its route falls back to the monolith it carries the identity
  header too, so the fallback answer is still the user's. Such a request whose body mitmproxy would
  stream (over stream_large_bodies) is refused with 413: its hash cannot be bound. The Bearer value taken
  off a request to the monolith is kept in flow.metadata (BEARER_KEY): a shadow route's copies to its
  target carry the token again, never the identity header meant for the monolith. Client copies of
  X-Strangler-Identity never get this far: EdgeIdentity strips every X-Strangler-* header first.

- `LoginStickiness`, right after the Router: a login (`strangler_login_route`, default `auth.login`)
  carries no credential yet, so the Router could only bucket it by client address. Once its (small JSON)
  body is in, the route's flag is asked again for the user named in the body (`login:<username>`,
  lower-cased), so a percentage rollout sends each user's logins to the same side every time. A login
  that already carries a legacy credential or a JWT keeps the Router's per-user decision.

Verification is inline on the event loop when the key is cached and fresh; only a JWKS fetch goes to a
thread, so the loop never waits on the auth service.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from urllib.parse import urlsplit

from mitmproxy import ctx, exceptions, http
from prometheus_client import Counter

from contracts.addresses import auth_issuer, url_of
from contracts.identity import (
    DEFAULT_TTL_SECONDS,
    DEV_INTERNAL_IDENTITY_KEY,
    HEADER,
    check_key,
    sign_identity,
)
from contracts.jwks import JwksCache
from contracts.tokens import AccessTokenClaims, InvalidToken, verify_access_token
from flags import FlagContext
from strangler_proxy.canonical import Refused
from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.guard import PATH_KEY, request_target
from strangler_proxy.identity import IDENTITY_KEY, SESSION_KEY, USER_ID_HEADER
from strangler_proxy.routes import (
    Decision,
    Identity,
    decide,
    is_idempotent,
    match_route,
)
from strangler_proxy.routing import DECISION_KEY, rewrite_to

logger = logging.getLogger(__name__)

CLAIMS_KEY = "strangler.jwt"  # flow.metadata: the verified AccessTokenClaims
# flow.metadata: the client's Authorization value, kept when IdentityHeader takes it off a request to the
# monolith, so copies of that request sent to a service (shadow candidates) still carry the Bearer token.
BEARER_KEY = "strangler.jwt.authorization"
JWKS_PATH = "/.well-known/jwks.json"
JWT_REFUSED = Counter(
    "strangler_jwt_refused", "Bearer tokens the gateway refused with 401, by reason.", ["code"]
)


def _env_debug() -> bool:
    raw = os.environ.get("DEBUG")
    return raw is None or raw.strip().lower() in {"1", "true", "yes", "on"}


def read_bearer(request: http.Request) -> str | None:
    """What follows the Bearer scheme (in any case) of the Authorization header, else None. Anything after
    it counts, spaces and all: a malformed Bearer credential is refused by verification (401), never
    mistaken for no credential and forwarded."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()


def identity_from_claims(claims: AccessTokenClaims) -> Identity:
    """The flag/audit identity of a token: its legacy user id when it has one (sticky across credential
    kinds), else its subject (a service's client-credentials token)."""
    user_id = str(claims.legacy_user_id) if claims.legacy_user_id is not None else claims.subject
    username = claims.claims.get("preferred_username") or claims.claims.get("username")
    return Identity(
        user_id=user_id, username=str(username) if username else None, roles=claims.roles, source="jwt"
    )


def _unauthorized(code: str, message: str) -> http.Response:
    response = error_response(401, code, message)
    response.headers["WWW-Authenticate"] = (
        f'Bearer realm="api", error="invalid_token", error_description="{code}"'
    )
    return response


class JwtAuth:
    """Options: strangler_jwks_url (default AUTH_SERVICE_URL + /.well-known/jwks.json), strangler_jwt_issuer
    (AUTH_ISSUER), strangler_jwt_audience (AUTH_AUDIENCE), strangler_jwt_leeway (seconds of clock skew
    allowed on exp/nbf), strangler_jwks_refetch (least seconds between two JWKS fetches)."""

    def __init__(self) -> None:
        self.jwks: JwksCache | None = None
        self.issuer = ""
        self.audience = ""
        self.leeway = 0

    def load(self, loader) -> None:
        service = url_of("AUTH_SERVICE")
        loader.add_option(
            "strangler_jwks_url",
            str,
            service.rstrip("/") + JWKS_PATH,
            "The auth service's JWKS (default: AUTH_SERVICE_URL + /.well-known/jwks.json).",
        )
        loader.add_option(
            "strangler_jwt_issuer",
            str,
            auth_issuer(),
            "The `iss` access tokens must carry (default: AUTH_ISSUER, else the Auth service's address).",
        )
        loader.add_option(
            "strangler_jwt_audience",
            str,
            os.environ.get("AUTH_AUDIENCE") or "techstore",
            "The `aud` access tokens must carry (default: AUTH_AUDIENCE).",
        )
        loader.add_option("strangler_jwt_leeway", int, 0, "Seconds of clock skew allowed on exp and nbf.")
        loader.add_option(
            "strangler_jwks_refetch", float, 5.0, "Least seconds between two JWKS fetches (unknown kids)."
        )

    def configure(self, updated: set[str]) -> None:
        if self.jwks is not None and not any(
            name.startswith(("strangler_jwt", "strangler_jwks")) for name in updated
        ):
            return
        options = ctx.options
        parts = urlsplit(options.strangler_jwks_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise exceptions.OptionsError(
                f"strangler_jwks_url: {options.strangler_jwks_url!r} is not an http(s) URL"
            )
        if not options.strangler_jwt_issuer.strip():
            raise exceptions.OptionsError("strangler_jwt_issuer must not be empty")
        if not options.strangler_jwt_audience.strip():
            raise exceptions.OptionsError("strangler_jwt_audience must not be empty")
        if options.strangler_jwt_leeway < 0:
            raise exceptions.OptionsError("strangler_jwt_leeway must be 0 or more")
        if not options.strangler_jwks_refetch > 0:
            raise exceptions.OptionsError("strangler_jwks_refetch must be greater than 0")
        self.issuer = options.strangler_jwt_issuer
        self.audience = options.strangler_jwt_audience
        self.leeway = options.strangler_jwt_leeway
        self.jwks = JwksCache(options.strangler_jwks_url, min_refetch_seconds=options.strangler_jwks_refetch)

    async def verify(self, token: str) -> AccessTokenClaims:
        """Inline when the key is cached and fresh; otherwise the (rate-limited) JWKS fetch runs in a
        thread so the event loop never blocks on the auth service."""
        jwks = self.jwks
        checks = {"issuer": self.issuer, "audience": self.audience, "leeway_seconds": self.leeway}
        try:
            return verify_access_token(token, key_for_kid=jwks.cached_key, **checks)
        except InvalidToken as exc:
            if exc.code != "unknown_kid":
                raise
        return await asyncio.to_thread(verify_access_token, token, key_for_kid=jwks.key_for_kid, **checks)

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        token = read_bearer(flow.request)
        if token is None:
            return
        try:
            claims = await self.verify(token)
        except InvalidToken as exc:
            JWT_REFUSED.labels(exc.code).inc()
            answer(flow, _unauthorized(exc.code, exc.message))
            return
        identity = identity_from_claims(claims)
        flow.request.headers["Authorization"] = f"Bearer {token}"  # one spelling for every upstream
        flow.metadata[CLAIMS_KEY] = claims
        flow.metadata[IDENTITY_KEY] = identity
        flow.metadata[SESSION_KEY] = hashlib.sha256(f"jwt:{claims.subject}".encode()).hexdigest()
        flow.request.headers[USER_ID_HEADER] = identity.user_id


class IdentityHeader:
    """Options: strangler_internal_identity_key (INTERNAL_IDENTITY_KEY; the marked dev default is refused
    when DEBUG is off), strangler_internal_identity_ttl (seconds a signed value lives, default 30),
    strangler_identity_upstreams (comma-separated upstream names that are the monolith: they get the
    identity header instead of the Bearer token; default `legacy`)."""

    def __init__(self) -> None:
        self.key = ""
        self.ttl = DEFAULT_TTL_SECONDS
        self.monolith: frozenset[str] = frozenset({"legacy"})

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_internal_identity_key",
            str,
            os.environ.get("INTERNAL_IDENTITY_KEY") or DEV_INTERNAL_IDENTITY_KEY,
            "HMAC key of X-Strangler-Identity, shared with the monolith (INTERNAL_IDENTITY_KEY).",
        )
        loader.add_option(
            "strangler_internal_identity_ttl",
            int,
            DEFAULT_TTL_SECONDS,
            "Seconds a signed X-Strangler-Identity value is valid.",
        )
        loader.add_option(
            "strangler_identity_upstreams",
            str,
            "legacy",
            "Upstream names (comma-separated) that are the monolith: JWT requests reach them with "
            "X-Strangler-Identity instead of the Bearer token.",
        )

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        key = options.strangler_internal_identity_key
        try:
            check_key(key)
        except ValueError as exc:
            raise exceptions.OptionsError(f"strangler_internal_identity_key: {exc}") from None
        if key == DEV_INTERNAL_IDENTITY_KEY and not _env_debug():
            raise exceptions.OptionsError(
                "strangler_internal_identity_key: DEBUG is off but INTERNAL_IDENTITY_KEY is the "
                "development default"
            )
        if not 1 <= options.strangler_internal_identity_ttl <= 300:
            raise exceptions.OptionsError("strangler_internal_identity_ttl must be between 1 and 300 seconds")
        names = frozenset(n.strip() for n in options.strangler_identity_upstreams.split(",") if n.strip())
        if not names:
            raise exceptions.OptionsError("strangler_identity_upstreams must name at least one upstream")
        self.key, self.ttl, self.monolith = key, options.strangler_internal_identity_ttl, names

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """A request the gateway would vouch for must have its body read (the value binds its hash): one
        mitmproxy streams (over stream_large_bodies) is refused here, before a byte of it leaves."""
        if flow.response or flow.error or not flow.request.stream:
            return
        if self._vouches_for(flow):
            answer(
                flow,
                error_response(
                    413,
                    "payload_too_large",
                    "A Bearer request to the monolith needs a body the gateway can read whole.",
                ),
            )

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error:
            return
        claims: AccessTokenClaims | None = flow.metadata.get(CLAIMS_KEY)
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if claims is None or decision is None:
            return
        if decision.upstream.name in self.monolith:
            authorization = flow.request.headers.pop("Authorization", None)  # the monolith never sees it
            if authorization is not None:
                flow.metadata[BEARER_KEY] = authorization  # for copies to a service (Shadow)
        if not self._vouches_for(flow):
            return  # a service's own token, or a request only services will see
        try:
            target = request_target(flow)
        except Refused:
            return  # the Router has answered it already
        flow.request.headers[HEADER] = sign_identity(
            key=self.key,
            user_id=claims.legacy_user_id,
            roles=claims.roles,
            scope=claims.scopes,
            jti=str(claims.claims.get("jti") or ""),
            method=flow.request.method,
            path=target.route_path,
            query=target.query,
            body=flow.request.raw_content or b"",
            ttl_seconds=self.ttl,
        )

    def _vouches_for(self, flow: http.HTTPFlow) -> bool:
        """Does this request get the identity header: a JWT with a legacy user, routed to the monolith, or
        to a service that answers a route the monolith served (it may fall back there, or it took the
        route over without a fallback, as catalog.write and orders.checkout: the service trusts the
        signed identity as the monolith does, and has no other way to know a JWT user's roles)?"""
        claims: AccessTokenClaims | None = flow.metadata.get(CLAIMS_KEY)
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if claims is None or decision is None or claims.legacy_user_id is None:
            return False
        may_fall_back = decision.fallback is not None and decision.fallback.name in self.monolith
        took_over = decision.legacy is not None and decision.legacy.name in self.monolith
        return decision.upstream.name in self.monolith or may_fall_back or took_over


MAX_LOGIN_BODY = 16 * 1024


def login_username(request: http.Request) -> str | None:
    """The `username` of a small JSON login body, lower-cased; None when there is none."""
    body = request.raw_content
    if not body or len(body) > MAX_LOGIN_BODY:
        return None
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    username = document.get("username") if isinstance(document, dict) else None
    if not isinstance(username, str) or not username.strip():
        return None
    return username.strip().lower()


class LoginStickiness:
    """Option: strangler_login_route (the route id whose anonymous requests are bucketed by the username
    in their body; default `auth.login`, empty: off). Uses the Router's flags and route table."""

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_login_route",
            str,
            "auth.login",
            "Route whose anonymous requests are bucketed by the body's username (empty: off).",
        )

    def request(self, flow: http.HTTPFlow) -> None:
        route_id = ctx.options.strangler_login_route
        if not route_id or flow.response or flow.error:
            return
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is None or decision.route_id != route_id or decision.flag is None:
            return
        identity = flow.metadata.get(IDENTITY_KEY)
        if identity is not None and identity.user_id:
            return  # a known user: the Router already bucketed them by user id
        username = login_username(flow.request)
        router = ctx.master.addons.get("router")
        if username is None or router is None or router.table is None:
            return
        route = next((r for r in router.table.routes if r.id == route_id), None)
        path = flow.metadata.get(PATH_KEY)
        if route is None or path is None or match_route((route,), flow.request.method, path) is None:
            return
        peer = flow.client_conn.peername
        context = FlagContext(
            user_id=f"login:{username}", session_id=None, remote_address=peer[0] if peer else None
        )
        enabled = router.memo.is_enabled(route.flag, context)
        if enabled == decision.flag_enabled:
            return
        idempotent = is_idempotent(flow.request.method, "Idempotency-Key" in flow.request.headers)
        changed = decide(router.table, route, flag_enabled=enabled, idempotent=idempotent)
        flow.metadata[DECISION_KEY] = changed
        rewrite_to(flow.request, changed.upstream)
