"""RateLimit addon: token buckets per client and per route; 429 with Retry-After when one is empty.

- Client: the user id EdgeIdentity found, else the client address. Route: the route id, one bucket shared
  by every client (it protects the upstream behind the route).
- Store: Redis (strangler_redis_url / REDIS_URL) with one Lua script that refills and takes from every
  bucket of the request atomically (all or nothing, so a refusal by one bucket does not drain the other),
  on Redis's own clock (TIME) so every gateway process shares the buckets. Without a Redis URL (embedded
  profile) the buckets live in this process.
- Redis unreachable: fail open -- the request goes on, a warning is logged (at most every 10 s), the
  strangler_rate_limit_backend_errors counter grows, and Redis is not asked again for 1 s.
- Limits come from options (the route table has no rate-limit field): strangler_rate_limit_client for every
  client, strangler_rate_limit_route for every matched route, strangler_rate_limit_routes to override per
  route id. A limit is `N/s`, `N/m` or `N/h` (burst N), or `N/s:B` with burst B; empty or `off`: none.
- It runs before the Router (a refused request costs no flag evaluation), so it matches the route itself
  with the Router's pure functions (routes.match_route, route_path) on its own parse of routes.yaml.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from mitmproxy import ctx, exceptions, http
from redis.exceptions import NoScriptError, RedisError

from strangler_proxy import metrics
from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.resilience import retry_after_header
from strangler_proxy.routes import ANONYMOUS, Route, UnsafePath, match_route, route_path
from strangler_proxy.routes_parser import RoutesError, load_routes
from strangler_proxy.routing import HEALTH_PATH, IDENTITY_KEY

logger = logging.getLogger(__name__)

RATE_LIMIT_KEY = "strangler.rate_limit"  # flow.metadata: the Refusal of a refused request
BACKEND_RETRY_INTERVAL = 1.0
WARNING_INTERVAL = 10.0
MAX_LOCAL_BUCKETS = 100_000

_PERIODS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_LIMIT = re.compile(r"^\s*(?P<count>\d+(?:\.\d+)?)\s*/\s*(?P<period>[smh])\s*(?::\s*(?P<burst>\d+)\s*)?$")

# KEYS: bucket keys. ARGV: rate (tokens per ms) and burst for each key, in KEYS order.
# Returns {allowed (1/0), milliseconds until a token (0 when allowed), 1-based index of the refusing key}.
TOKEN_BUCKET_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local tokens = {}
local wait, refusing = 0, 0
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 't', 'ts')
  local t, ts = tonumber(state[1]), tonumber(state[2])
  if t == nil or ts == nil then t, ts = burst, now end
  t = math.min(burst, t + math.max(0, now - ts) * rate)
  tokens[i] = t
  if t < 1 then
    local need = (1 - t) / rate
    if need > wait then wait, refusing = need, i end
  end
end
if refusing > 0 then return {0, math.ceil(wait), refusing} end
for i = 1, #KEYS do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 't', tostring(tokens[i] - 1), 'ts', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate) + 1000)
end
return {1, 0, 0}
"""
TOKEN_BUCKET_SHA = hashlib.sha1(TOKEN_BUCKET_LUA.encode()).hexdigest()  # noqa: S324 (Redis names scripts so)


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` tokens per second, at most `burst` saved up."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket a request takes a token from: its scope ("client" or "route"), key and limit."""

    scope: str
    key: str
    limit: Limit


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request got 429: the bucket that was empty and when it will have a token again."""

    scope: str
    route_id: str | None
    retry_after: float


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    client: Limit | None
    route_default: Limit | None
    routes: dict[str, Limit | None]
    redis_url: str
    prefix: str

    @property
    def active(self) -> bool:
        return self.client is not None or self.route_default is not None or any(self.routes.values())


def parse_limit(spec: str) -> Limit | None:
    """`100/s`, `600/m:50`, `off` or empty -> Limit or None. Raises ValueError."""
    if not spec.strip() or spec.strip().lower() in ("off", "0", "none"):
        return None
    match = _LIMIT.match(spec)
    if match is None:
        raise ValueError(f"bad rate limit {spec!r} (expected N/s, N/m or N/h, optionally :BURST)")
    count = float(match.group("count"))
    if count <= 0:
        raise ValueError(f"bad rate limit {spec!r}: the count must be positive")
    burst = int(match.group("burst") or math.ceil(count))
    if burst < 1:
        raise ValueError(f"bad rate limit {spec!r}: the burst must be at least 1")
    return Limit(rate=count / _PERIODS[match.group("period")], burst=burst)


def parse_route_limits(spec: str) -> dict[str, Limit | None]:
    """`catalog.read=100/s:200,orders.checkout=off` -> {route id: Limit or None}."""
    limits: dict[str, Limit | None] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        route_id, sep, limit = item.partition("=")
        if not sep or not route_id.strip():
            raise ValueError(f"bad per-route rate limit {item!r} (expected ROUTE_ID=N/s)")
        limits[route_id.strip()] = parse_limit(limit)
    return limits


class LocalBuckets:
    """In-process token buckets (embedded profile): same algorithm as the Lua script, on a monotonic clock."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, buckets: list[Bucket]) -> tuple[float, int]:
        """(seconds until allowed (0: allowed, tokens taken), index of the refusing bucket or -1)."""
        now = self._clock()
        state = self._state
        levels = []
        wait, refusing = 0.0, -1
        for index, bucket in enumerate(buckets):
            tokens, at = state.get(bucket.key, (bucket.limit.burst, now))
            tokens = min(bucket.limit.burst, tokens + max(0.0, now - at) * bucket.limit.rate)
            levels.append(tokens)
            if tokens < 1:
                need = (1 - tokens) / bucket.limit.rate
                if need > wait:
                    wait, refusing = need, index
        if refusing >= 0:
            return wait, refusing
        for bucket, tokens in zip(buckets, levels, strict=True):
            state[bucket.key] = (tokens - 1, now)
        if len(state) > MAX_LOCAL_BUCKETS:
            self._forget_full(now, buckets)
        return 0.0, -1

    def _forget_full(self, now: float, live: list[Bucket]) -> None:
        """Drop the oldest half of the buckets: a bucket untouched for long is full again anyway."""
        keep = {b.key for b in live}
        ordered = sorted(self._state.items(), key=lambda item: item[1][1])
        for key, _ in ordered[: len(ordered) // 2]:
            if key not in keep:
                del self._state[key]


class RedisBuckets:
    """Buckets in Redis, updated by one atomic script (loaded once, called by its SHA)."""

    def __init__(self, url: str) -> None:
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=0.25, socket_connect_timeout=0.25, retry_on_timeout=False
        )
        self._loaded = False

    async def take(self, buckets: list[Bucket]) -> tuple[float, int]:
        keys = [b.key for b in buckets]
        args: list[str] = []
        for bucket in buckets:
            args += [repr(bucket.limit.rate / 1000.0), str(bucket.limit.burst)]
        if not self._loaded:
            await self.client.script_load(TOKEN_BUCKET_LUA)
            self._loaded = True
        try:
            allowed, wait_ms, refusing = await self.client.evalsha(TOKEN_BUCKET_SHA, len(keys), *keys, *args)
        except NoScriptError:  # Redis restarted or SCRIPT FLUSH: load it again
            await self.client.script_load(TOKEN_BUCKET_LUA)
            allowed, wait_ms, refusing = await self.client.evalsha(TOKEN_BUCKET_SHA, len(keys), *keys, *args)
        if allowed:
            return 0.0, -1
        return max(int(wait_ms), 1) / 1000.0, int(refusing) - 1

    async def close(self) -> None:
        await self.client.aclose()


class RateLimit:
    """Options: strangler_redis_url, strangler_rate_limit_client, strangler_rate_limit_route,
    strangler_rate_limit_routes, strangler_rate_limit_prefix (see load())."""

    def __init__(self, *, clock=time.monotonic) -> None:
        self.settings: RateLimitSettings | None = None
        self._routes: tuple[Route, ...] = ()
        self._local = LocalBuckets(clock)
        self._redis: RedisBuckets | None = None
        self._redis_down_until = 0.0
        self._last_warning = -math.inf

    def load(self, loader) -> None:
        env = os.environ
        loader.add_option(
            "strangler_redis_url",
            str,
            env.get("REDIS_URL", ""),
            "Redis holding the rate-limit buckets (empty: buckets in this process).",
        )
        loader.add_option(
            "strangler_rate_limit_client",
            str,
            env.get("GATEWAY_RATE_LIMIT_CLIENT", ""),
            "Limit per client (user id, else address): N/s, N/m, N/h, optional :BURST; empty = none.",
        )
        loader.add_option(
            "strangler_rate_limit_route",
            str,
            env.get("GATEWAY_RATE_LIMIT_ROUTE", ""),
            "Limit per matched route, shared by all clients; empty = none.",
        )
        loader.add_option(
            "strangler_rate_limit_routes",
            str,
            env.get("GATEWAY_RATE_LIMIT_ROUTES", ""),
            "Per-route overrides: ROUTE_ID=N/s[:BURST] or ROUTE_ID=off, comma-separated.",
        )
        loader.add_option(
            "strangler_rate_limit_prefix", str, "strangler:rl:", "Prefix of the Redis bucket keys."
        )

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        relevant = {n for n in updated if n.startswith("strangler_rate_limit") or n == "strangler_redis_url"}
        if self.settings is not None and not relevant and "strangler_routes" not in updated:
            return
        try:
            settings = RateLimitSettings(
                client=parse_limit(options.strangler_rate_limit_client),
                route_default=parse_limit(options.strangler_rate_limit_route),
                routes=parse_route_limits(options.strangler_rate_limit_routes),
                redis_url=options.strangler_redis_url.strip(),
                prefix=options.strangler_rate_limit_prefix,
            )
        except ValueError as exc:
            raise exceptions.OptionsError(f"RateLimit: {exc}") from None
        self._routes = self._load_routes(settings)
        if self.settings is None or settings.redis_url != self.settings.redis_url:
            self._redis = RedisBuckets(settings.redis_url) if settings.redis_url else None
        self.settings = settings

    @staticmethod
    def _load_routes(settings: RateLimitSettings) -> tuple[Route, ...]:
        if settings.route_default is None and not any(settings.routes.values()):
            return ()
        path = getattr(ctx.options, "strangler_routes", None)  # declared by the Router
        if not path:
            raise exceptions.OptionsError("RateLimit: per-route limits need the Router's strangler_routes")
        try:
            table = load_routes(path)
        except RoutesError as exc:
            raise exceptions.OptionsError(str(exc)) from None
        unknown = set(settings.routes) - {route.id for route in table.routes}
        if unknown:
            raise exceptions.OptionsError(
                f"strangler_rate_limit_routes names routes that {path} does not have: {sorted(unknown)}"
            )
        return table.routes

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        settings = self.settings
        if flow.response or flow.error or settings is None or not settings.active:
            return
        buckets, route_id = self.buckets_for(flow)
        if not buckets:
            return
        wait, refusing = await self._take(buckets)
        if refusing < 0:
            return
        refusal = Refusal(buckets[refusing].scope, route_id, wait)
        flow.metadata[RATE_LIMIT_KEY] = refusal
        metrics.observe_rate_limited(route_id)
        seconds = retry_after_header(wait)
        response = error_response(
            429,
            "rate_limited",
            f"Too many requests; retry after {seconds} s.",
            {"scope": refusal.scope, "route": route_id, "retry_after": int(seconds)},
        )
        response.headers["Retry-After"] = seconds
        answer(flow, response)

    def buckets_for(self, flow: http.HTTPFlow) -> tuple[list[Bucket], str | None]:
        """The buckets this request takes a token from, and its route id (None: unmatched)."""
        settings = self.settings
        request = flow.request
        try:
            path = route_path(request.path)
        except UnsafePath:
            return [], None  # the Router answers 400
        if path == HEALTH_PATH:
            return [], None
        buckets = []
        if settings.client is not None:
            identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
            if identity.user_id is not None:
                client = f"user:{identity.user_id}"
            else:
                peer = flow.client_conn.peername
                client = f"addr:{peer[0] if peer else 'unknown'}"
            buckets.append(Bucket("client", f"{settings.prefix}c:{client}", settings.client))
        route_id = None
        if self._routes:
            route = match_route(self._routes, request.method, path)
            if route is not None:
                route_id = route.id
                limit = settings.routes.get(route.id, settings.route_default)
                if limit is not None:
                    buckets.append(Bucket("route", f"{settings.prefix}r:{route.id}", limit))
        return buckets, route_id

    async def _take(self, buckets: list[Bucket]) -> tuple[float, int]:
        if self._redis is None:
            return self._local.take(buckets)
        now = time.monotonic()
        if now < self._redis_down_until:
            return 0.0, -1
        try:
            return await self._redis.take(buckets)
        except (RedisError, OSError) as exc:  # fail open: a rate limiter must never take the gateway down
            self._redis_down_until = now + BACKEND_RETRY_INTERVAL
            self._redis._loaded = False
            metrics.observe_rate_limit_backend_error()
            if now - self._last_warning >= WARNING_INTERVAL:
                self._last_warning = now
                logger.warning(
                    "rate limiting is off for %.0f s: Redis failed: %s", BACKEND_RETRY_INTERVAL, exc
                )
            return 0.0, -1

    async def done(self) -> None:
        if self._redis is not None:
            await self._redis.close()
