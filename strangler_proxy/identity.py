"""EdgeIdentity addon: who is sending a request, for the flag context, rate limits and the audit log.

It first strips every client-supplied `X-Strangler-*` header (only the gateway sets those), then reads the
client's credential and resolves it to an Identity:

- `Authorization: Token <key>` (legacy API token; checked first, as the monolith's DRF settings do), or
- the legacy session cookie (`sessionid`),

through the monolith's own GET /api/v1/accounts/me, behind a cache (IdentityCache): bounded, TTL'd,
keyed by a hash of the credential, remembering rejected credentials for a short while, and coalescing
concurrent lookups of one credential into one call. A failed lookup never fails the request: the user is
anonymous for flag purposes and the upstream still decides authentication.

Extension point (JWT, once the auth service issues them): a credential kind is a `CredentialReader`
(reads the request, returns a Credential or None) plus a resolver for its kind in `EdgeIdentity._resolve`;
a JWT resolver verifies the signature locally against the auth service's JWKS and needs no lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp
from mitmproxy import ctx, exceptions, http
from mitmproxy.proxy.mode_specs import ProxyMode, ReverseMode

from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.routes import ANONYMOUS, Identity, Upstream
from strangler_proxy.routes_parser import parse_upstream

logger = logging.getLogger(__name__)

IDENTITY_KEY = "strangler.identity"
SESSION_KEY = "strangler.session_id"
USER_ID_HEADER = "X-Strangler-User-Id"
INTERNAL_PREFIX = "x-strangler-"
ME_PATH = "/api/v1/accounts/me"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class Credential:
    """A credential the client presented. `digest` (sha256 of kind and value) is the cache key and the
    flag context's session id; the raw value only ever goes to the monolith's lookup."""

    kind: Literal["session", "legacy_token"]
    header: tuple[str, str]  # how the lookup presents it: (name, value)
    digest: str


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def read_legacy_token(request: http.Request, cookie_name: str) -> Credential | None:
    parts = request.headers.get("Authorization", "").split()
    if len(parts) != 2 or parts[0].lower() != "token":
        return None
    return Credential("legacy_token", ("Authorization", f"Token {parts[1]}"), _digest("token", parts[1]))


def read_session_cookie(request: http.Request, cookie_name: str) -> Credential | None:
    if "cookie" not in request.headers:
        return None
    value = request.cookies.get(cookie_name)
    if not value:
        return None
    return Credential("session", ("Cookie", f"{cookie_name}={value}"), _digest("session", value))


CredentialReader = Callable[[http.Request, str], Credential | None]
# In the order the monolith's DRF authentication classes try them.
CREDENTIAL_READERS: tuple[CredentialReader, ...] = (read_legacy_token, read_session_cookie)


def read_credential(request: http.Request, cookie_name: str = "sessionid") -> Credential | None:
    for reader in CREDENTIAL_READERS:
        credential = reader(request, cookie_name)
        if credential is not None:
            return credential
    return None


def strip_internal_headers(headers: http.Headers) -> list[str]:
    """Remove client-supplied X-Strangler-* headers; return the names removed."""
    names = [name for name in headers if name.lower().startswith(INTERNAL_PREFIX)]
    for name in names:
        headers.pop(name, None)
    return names


# --- the cache -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a lookup found: an identity, a rejected credential (401/403), or nothing (the lookup failed)."""

    identity: Identity | None
    rejected: bool = False


class IdentityCache:
    """Identities by credential digest. Found: kept `ttl` s; rejected: `negative_ttl` s; failed lookups:
    `failure_ttl` s (so a down monolith is not asked once per request). At most `max_entries`, least
    recently used evicted first. Concurrent `resolve` calls for one digest share one lookup."""

    def __init__(
        self,
        *,
        ttl: float = 30.0,
        negative_ttl: float = 5.0,
        failure_ttl: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl, self.negative_ttl, self.failure_ttl = ttl, negative_ttl, failure_ttl
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, tuple[float, Identity | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[Lookup]] = {}
        self.lookups = 0  # calls actually made, for tests and metrics

    def __len__(self) -> int:
        return len(self._entries)

    def cached(self, digest: str) -> tuple[bool, Identity | None]:
        """(hit, identity): identity None on a hit means a rejected or failed credential (anonymous)."""
        entry = self._entries.get(digest)
        if entry is None:
            return False, None
        expires, identity = entry
        if expires <= self.clock():
            del self._entries[digest]
            return False, None
        self._entries.move_to_end(digest)
        return True, identity

    def store(self, digest: str, found: Lookup) -> None:
        ttl = self.ttl if found.identity else self.negative_ttl if found.rejected else self.failure_ttl
        self._entries[digest] = (self.clock() + ttl, found.identity)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def resolve(self, digest: str, lookup: Callable[[], Awaitable[Lookup]]) -> Identity | None:
        hit, identity = self.cached(digest)
        if hit:
            return identity
        pending = self._inflight.get(digest)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(digest, lookup))
            self._inflight[digest] = pending
        # shield: a client that goes away must not cancel the lookup other requests wait for
        found = await asyncio.shield(pending)
        return found.identity

    async def _lookup(self, digest: str, lookup: Callable[[], Awaitable[Lookup]]) -> Lookup:
        self.lookups += 1
        try:
            found = await lookup()
        except Exception:  # a lookup failure must never fail the request
            logger.exception("identity lookup failed")
            found = Lookup(None)
        finally:
            self._inflight.pop(digest, None)
        self.store(digest, found)
        return found


def identity_from_me(body: object, source: Literal["session", "legacy_token"]) -> Identity | None:
    """The monolith's user JSON ({id, username, role, ...}) as an Identity; None if it is not one."""
    if not isinstance(body, dict) or body.get("id") is None:
        return None
    role = body.get("role")
    return Identity(
        user_id=str(body["id"]),
        username=str(body.get("username") or "") or None,
        roles=(str(role),) if role else (),
        source=source,
    )


# --- the addon -----------------------------------------------------------------------------------------


def _legacy_from_mode(modes: list[str]) -> Upstream | None:
    """The reverse-mode upstream, parsed by mitmproxy itself (`reverse:URL[@listen]` included)."""
    for spec in modes:
        mode = ProxyMode.parse(spec)
        if isinstance(mode, ReverseMode):
            return parse_upstream("legacy", mode.data)
    return None


class EdgeIdentity:
    """Options: strangler_identity_url (where GET /api/v1/accounts/me is asked; default MONOLITH_URL,
    else the reverse-mode upstream), strangler_session_cookie, strangler_identity_ttl,
    strangler_identity_negative_ttl, strangler_identity_max_entries, strangler_identity_timeout,
    strangler_legacy_credentials (GATEWAY_LEGACY_CREDENTIALS, default true: false once legacy sessions and
    tokens are retired, `legacy_sessions retire-check`; then nothing is looked up at the monolith, a legacy
    token is the gateway's own 401 legacy_credentials_retired and a session cookie counts for nothing)."""

    def __init__(self) -> None:
        self.cache = IdentityCache()
        self.lookup_url = ""
        self.cookie_name = "sessionid"
        self.timeout = 2.0
        self.legacy_credentials = True
        self._client: aiohttp.ClientSession | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_identity_url",
            str,
            os.environ.get("MONOLITH_URL", ""),
            "The monolith that answers GET /api/v1/accounts/me for identity lookups "
            "(default: MONOLITH_URL, else the reverse-mode upstream).",
        )
        loader.add_option("strangler_session_cookie", str, "sessionid", "The legacy session cookie's name.")
        loader.add_option("strangler_identity_ttl", float, 30.0, "Seconds a resolved identity is cached.")
        loader.add_option(
            "strangler_identity_negative_ttl", float, 5.0, "Seconds a rejected credential is remembered."
        )
        loader.add_option("strangler_identity_max_entries", int, 10_000, "Most identities cached.")
        loader.add_option("strangler_identity_timeout", float, 2.0, "Seconds an identity lookup may take.")
        loader.add_option(
            "strangler_legacy_credentials",
            bool,
            os.environ.get("GATEWAY_LEGACY_CREDENTIALS", "true").strip().lower() in _TRUE,
            "Accept the monolith's legacy tokens and sessions (GATEWAY_LEGACY_CREDENTIALS); off: retired.",
        )

    def configure(self, updated: set[str]) -> None:
        if not any(
            name.startswith("strangler_identity")
            or name in ("mode", "strangler_session_cookie", "strangler_legacy_credentials")
            for name in updated
        ):
            return
        options = ctx.options
        try:
            if options.strangler_identity_url:
                legacy = parse_upstream("legacy", options.strangler_identity_url)
            else:
                legacy = _legacy_from_mode(list(options.mode))
        except ValueError as exc:
            raise exceptions.OptionsError(f"strangler_identity_url: {exc}") from None
        if legacy is None:
            raise exceptions.OptionsError(
                "strangler_identity_url: set it (or MONOLITH_URL) or run in reverse mode"
            )
        for name in (
            "strangler_identity_ttl",
            "strangler_identity_negative_ttl",
            "strangler_identity_timeout",
        ):
            if not getattr(options, name) > 0:
                raise exceptions.OptionsError(f"{name} must be greater than 0")
        if options.strangler_identity_max_entries < 1:
            raise exceptions.OptionsError("strangler_identity_max_entries must be at least 1")
        self.lookup_url = legacy.url + ME_PATH
        self.cookie_name = options.strangler_session_cookie
        self.legacy_credentials = options.strangler_legacy_credentials
        self.timeout = options.strangler_identity_timeout
        self.cache = IdentityCache(
            ttl=options.strangler_identity_ttl,
            negative_ttl=options.strangler_identity_negative_ttl,
            max_entries=options.strangler_identity_max_entries,
        )

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        headers = flow.request.headers
        strip_internal_headers(headers)
        if flow.response:
            return
        credential = read_credential(flow.request, self.cookie_name)
        if credential is not None and not self.legacy_credentials:
            if credential.kind == "legacy_token":
                flow.metadata[IDENTITY_KEY] = ANONYMOUS
                answer(
                    flow,
                    error_response(
                        401,
                        "legacy_credentials_retired",
                        "Legacy sessions and API tokens are turned off: log in for an Auth service token",
                    ),
                )
                return
            credential = None  # a session cookie counts for nothing, as at the monolith
        if credential is None:
            flow.metadata[IDENTITY_KEY] = ANONYMOUS
            return
        flow.metadata[SESSION_KEY] = credential.digest
        identity = await self.cache.resolve(credential.digest, lambda: self._ask_monolith(credential, flow))
        flow.metadata[IDENTITY_KEY] = identity or ANONYMOUS
        if identity is not None and identity.user_id:
            headers[USER_ID_HEADER] = identity.user_id

    async def _ask_monolith(self, credential: Credential, flow: http.HTTPFlow) -> Lookup:
        if self._client is None:  # created on first use: aiohttp needs the running loop
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=20),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),  # never carry one user's cookies to another's lookup
            )
        headers = {
            credential.header[0]: credential.header[1],
            "Accept": "application/json",
            "User-Agent": "strangler-gateway (identity lookup)",
        }
        request_id = flow.request.headers.get("X-Request-ID")
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            async with self._client.get(self.lookup_url, headers=headers, allow_redirects=False) as answer:
                status = answer.status
                body = await answer.read() if status == 200 else b""
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("identity lookup at %s failed: %r", self.lookup_url, exc)
            return Lookup(None)
        if status in (401, 403):
            return Lookup(None, rejected=True)
        if status != 200:
            logger.warning("identity lookup at %s answered %s", self.lookup_url, status)
            return Lookup(None)
        try:
            return Lookup(identity_from_me(json.loads(body), credential.kind))
        except ValueError:
            return Lookup(None)

    async def done(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
