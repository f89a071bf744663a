"""Token buckets: limit parsing, in-process buckets on a fake clock, the RateLimit addon's 429s, and the Lua
script against the real Redis (unique key prefix per test, deleted afterwards)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid

import pytest
import redis
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from strangler_proxy import metrics, ratelimit
from strangler_proxy.ratelimit import (
    RATE_LIMIT_KEY,
    Bucket,
    Limit,
    LocalBuckets,
    RateLimit,
    RedisBuckets,
    parse_limit,
    parse_route_limits,
)
from strangler_proxy.routes import Identity
from strangler_proxy.routing import IDENTITY_KEY
from tests.strangler_proxy.conftest import free_port

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"

ROUTES_YAML = """
upstreams:
  legacy: http://127.0.0.1:9
  product: http://127.0.0.1:10
defaults: {legacy: legacy}
routes:
  - id: catalog.read
    methods: [GET]
    path: ^/api/v1/catalog/.*$
    target: product
    flag: route.catalog.read
  - id: orders.write
    path: ^/api/v1/orders/.*$
    target: product
    flag: route.orders.write
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RoutesOption:
    """Declares the Router's strangler_routes option without loading the Router (and its flags store)."""

    def load(self, loader) -> None:
        loader.add_option("strangler_routes", str, "", "routes.yaml")


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"strangler:test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def routes_file(tmp_path):
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES_YAML, encoding="utf-8")
    return path


def make_flow(path="/api/v1/catalog/products/1", method="GET", user_id=None, address="10.0.0.1"):
    flow = tflow.tflow()
    flow.request.method = method
    flow.request.path = path
    flow.client_conn.peername = (address, 50000)
    if user_id is not None:
        flow.metadata[IDENTITY_KEY] = Identity(user_id, "someone", (), "session")
    return flow


def run_limiter(scenario, clock=None, **options):
    # In-process buckets unless the test names a Redis: REDIS_URL (set by make test) would otherwise
    # become the default and share buckets between tests.
    options.setdefault("strangler_redis_url", "")

    async def main():
        limiter = RateLimit(clock=clock) if clock else RateLimit()
        with taddons.context(RoutesOption(), limiter) as tctx:
            tctx.configure(limiter, **options)
            try:
                return await scenario(limiter)
            finally:
                await limiter.done()

    return asyncio.run(main())


# --- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", None),
        ("off", None),
        ("10/s", Limit(10.0, 10)),
        ("10/s:25", Limit(10.0, 25)),
        ("600/m", Limit(10.0, 600)),
        ("3600/h:5", Limit(1.0, 5)),
        (" 2.5 / s ", Limit(2.5, 3)),
    ],
)
def test_limits_parse(spec, expected):
    assert parse_limit(spec) == expected


@pytest.mark.parametrize("spec", ["10", "10/d", "-1/s", "0/s", "ten/s", "10/s:0", "10/s:x"])
def test_bad_limits_are_refused(spec):
    with pytest.raises(ValueError, match="rate limit"):
        parse_limit(spec)


def test_per_route_limits_parse_with_off_overrides():
    assert parse_route_limits("catalog.read=100/s:200, orders.write=off") == {
        "catalog.read": Limit(100.0, 200),
        "orders.write": None,
    }
    with pytest.raises(ValueError, match="ROUTE_ID"):
        parse_route_limits("catalog.read")


# --- in-process buckets --------------------------------------------------------------------------------


def test_local_bucket_allows_the_burst_then_refuses_until_it_refills():
    clock = FakeClock()
    buckets = LocalBuckets(clock)
    bucket = [Bucket("client", "c:a", Limit(rate=2.0, burst=3))]
    assert [buckets.take(bucket)[1] for _ in range(3)] == [-1, -1, -1]
    wait, refusing = buckets.take(bucket)
    assert refusing == 0
    assert wait == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take(bucket) == (0.0, -1)


def test_a_refusal_by_one_bucket_takes_nothing_from_the_other():
    clock = FakeClock()
    buckets = LocalBuckets(clock)
    client = Bucket("client", "c:a", Limit(rate=0.001, burst=5))
    route = Bucket("route", "r:x", Limit(rate=0.001, burst=1))
    assert buckets.take([client, route]) == (0.0, -1)
    assert buckets.take([client, route])[1] == 1  # the route bucket is empty
    for _ in range(4):  # the client bucket still holds its 4 remaining tokens
        assert buckets.take([client]) == (0.0, -1)
    assert buckets.take([client])[1] == 0


# --- the addon -----------------------------------------------------------------------------------------


def test_over_the_client_limit_the_gateway_answers_429_with_retry_after():
    clock = FakeClock()

    async def scenario(limiter):
        flows = [make_flow() for _ in range(3)]
        for flow in flows:
            await limiter.requestheaders(flow)
        return flows

    flows = run_limiter(scenario, clock=clock, strangler_rate_limit_client="2/m")
    assert [f.response for f in flows[:2]] == [None, None]
    refused = flows[2].response
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "30"  # one token every 30 s
    body = json.loads(refused.content)
    assert body["code"] == "rate_limited"
    assert body["extra"] == {"scope": "client", "route": None, "retry_after": 30}
    assert flows[2].metadata[RATE_LIMIT_KEY].scope == "client"


def test_clients_are_told_apart_by_user_id_else_by_address():
    async def scenario(limiter):
        results = []
        for flow in (
            make_flow(user_id="7", address="10.0.0.1"),
            make_flow(user_id="7", address="10.0.0.2"),  # same user elsewhere: same bucket
            make_flow(user_id="8", address="10.0.0.1"),
            make_flow(address="10.0.0.1"),
            make_flow(address="10.0.0.3"),
        ):
            await limiter.requestheaders(flow)
            results.append(flow.response.status_code if flow.response else 200)
        return results

    assert run_limiter(scenario, strangler_rate_limit_client="1/m") == [200, 429, 200, 200, 200]


def test_route_limits_are_shared_by_every_client_of_the_route(routes_file):
    async def scenario(limiter):
        statuses = []
        for address, path in [
            ("10.0.0.1", "/api/v1/catalog/products/1"),
            ("10.0.0.2", "/api/v1/catalog/products/2"),
            ("10.0.0.3", "/api/v1/orders/cart"),  # another route: its own limit
            ("10.0.0.4", "/api/v1/accounts/me"),  # no route: no route limit
            ("10.0.0.4", "/api/v1/accounts/me"),
        ]:
            flow = make_flow(path, address=address)
            await limiter.requestheaders(flow)
            statuses.append(flow.response.status_code if flow.response else 200)
            if flow.response:
                assert json.loads(flow.response.content)["extra"]["scope"] == "route"
        return statuses

    statuses = run_limiter(
        scenario,
        strangler_routes=str(routes_file),
        strangler_rate_limit_route="1/m",
        strangler_rate_limit_routes="orders.write=5/m",
    )
    assert statuses == [200, 429, 200, 200, 200]


def test_the_health_path_is_never_limited():
    async def scenario(limiter):
        flows = [make_flow("/_strangler/health") for _ in range(3)]
        for flow in flows:
            await limiter.requestheaders(flow)
        return [f.response for f in flows]

    assert run_limiter(scenario, strangler_rate_limit_client="1/m") == [None, None, None]


@pytest.mark.parametrize(
    "options",
    [
        {"strangler_rate_limit_client": "fast"},
        {"strangler_rate_limit_route": "10/d"},
        {"strangler_rate_limit_routes": "catalog.read"},
        {"strangler_rate_limit_routes": "no.such.route=1/s"},
    ],
)
def test_bad_rate_limit_options_are_refused_at_start(options, routes_file):
    limiter = RateLimit()
    with taddons.context(RoutesOption(), limiter) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(limiter, strangler_routes=str(routes_file), **options)


# --- Redis ---------------------------------------------------------------------------------------------


def test_the_lua_bucket_is_atomic_under_concurrency_across_clients(redis_prefix):
    """200 concurrent takes from two independent clients (as two gateway processes would be) on a bucket
    of 50 tokens that barely refills: exactly 50 are allowed."""

    async def scenario():
        stores = [RedisBuckets(REDIS_URL), RedisBuckets(REDIS_URL)]
        bucket = [Bucket("route", f"{redis_prefix}r:catalog", Limit(rate=0.0001, burst=50))]
        try:
            results = await asyncio.gather(*(stores[i % 2].take(bucket) for i in range(200)))
        finally:
            for store in stores:
                await store.close()
        return results

    results = asyncio.run(scenario())
    assert sum(1 for _, refusing in results if refusing < 0) == 50
    assert all(wait > 0 for wait, refusing in results if refusing >= 0)


def test_the_lua_script_takes_from_all_buckets_or_from_none(redis_prefix):
    async def scenario():
        store = RedisBuckets(REDIS_URL)
        client = Bucket("client", f"{redis_prefix}c:a", Limit(rate=0.0001, burst=3))
        route = Bucket("route", f"{redis_prefix}r:x", Limit(rate=0.0001, burst=1))
        try:
            outcomes = [await store.take([client, route]) for _ in range(2)]
            outcomes += [await store.take([client]) for _ in range(3)]
        finally:
            await store.close()
        return [refusing for _, refusing in outcomes]

    # the route bucket refuses the 2nd request; the client bucket keeps 2 tokens for the next ones
    assert asyncio.run(scenario()) == [-1, 1, -1, -1, 0]


def test_a_script_missing_from_redis_is_loaded_again(redis_prefix, monkeypatch):
    script = ratelimit.TOKEN_BUCKET_LUA + f"\n-- {redis_prefix}\n"  # a script Redis has never seen
    monkeypatch.setattr(ratelimit, "TOKEN_BUCKET_LUA", script)
    monkeypatch.setattr(ratelimit, "TOKEN_BUCKET_SHA", hashlib.sha1(script.encode()).hexdigest())

    async def scenario():
        store = RedisBuckets(REDIS_URL)
        store._loaded = True  # as if loaded before a Redis restart
        try:
            return await store.take([Bucket("client", f"{redis_prefix}c:a", Limit(1.0, 1))])
        finally:
            await store.close()

    assert asyncio.run(scenario()) == (0.0, -1)


def test_the_addon_answers_429_from_redis_buckets(redis_prefix):
    async def scenario(limiter):
        flows = [make_flow() for _ in range(3)]
        for flow in flows:
            await limiter.requestheaders(flow)
        return [f.response.status_code if f.response else 200 for f in flows], flows[2]

    statuses, refused = run_limiter(
        scenario,
        strangler_redis_url=REDIS_URL,
        strangler_rate_limit_prefix=redis_prefix,
        strangler_rate_limit_client="2/h",
    )
    assert statuses == [200, 200, 429]
    assert int(refused.response.headers["Retry-After"]) in (1800, 1801)  # one token per 1800 s, rounded up


def test_redis_down_fails_open_with_a_warning_and_a_metric(caplog):
    errors_before = metrics.RATE_LIMIT_BACKEND_ERRORS._value.get()

    async def scenario(limiter):
        flows = [make_flow() for _ in range(5)]
        for flow in flows:
            await limiter.requestheaders(flow)
        return [f.response for f in flows]

    responses = run_limiter(
        scenario,
        strangler_redis_url=f"redis://127.0.0.1:{free_port()}/0",
        strangler_rate_limit_client="1/h",
    )
    assert responses == [None] * 5
    assert metrics.RATE_LIMIT_BACKEND_ERRORS._value.get() == errors_before + 1  # then 1 s without asking
    assert "rate limiting is off" in caplog.text
