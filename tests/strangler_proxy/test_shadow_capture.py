"""The Shadow addon in mitmproxy's test context (taddons, tflow) against real stand-in upstreams: what it
mirrors, the copies' own timeout and bulkhead, the pair it publishes, and its metrics."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
from types import SimpleNamespace

import pytest
from aiohttp import web
from mitmproxy.test import taddons, tflow
from prometheus_client import REGISTRY

from contracts.identity import HEADER as IDENTITY_HEADER
from contracts.identity import verify_identity
from contracts.tokens import AccessTokenClaims
from shadow.pairs import ShadowPair
from shadow.transport import consume
from strangler_proxy.jwt_auth import CLAIMS_KEY, IdentityHeader
from strangler_proxy.routes import Identity, decide
from strangler_proxy.routes_parser import parse_routes
from strangler_proxy.routing import DECISION_KEY, IDENTITY_KEY
from strangler_proxy.shadow_capture import Shadow
from tests.strangler_proxy.conftest import addon_context, free_port


def route_table(legacy, candidate, shadow_options: str = "{}", methods: str = "[GET, HEAD]"):
    return parse_routes(
        f"""
upstreams:
  legacy: {legacy.url}
  candidate: {candidate.url}
routes:
  - id: items
    methods: {methods}
    path: ^/items(/.*)?$
    target: candidate
    flag: route.items
    mode: shadow
    shadow: {shadow_options}
""",
        env={},
    )


def make_flow(table, *, method="GET", path="/items/1", flag_on=True, user=None, answered=True):
    flow = tflow.tflow()
    flow.request.method = method
    flow.request.path = path
    flow.request.headers.clear()
    flow.request.headers["Accept"] = "application/json"
    route = table.routes[0]
    flow.metadata[DECISION_KEY] = decide(table, route, flag_enabled=flag_on, idempotent=True)
    if user is not None:
        flow.metadata[IDENTITY_KEY] = Identity(user_id=user, username=None, roles=(), source="session")
    if answered:  # the Forwarder already has legacy's answer
        flow.response = tflow.tresp(
            content=b'{"from": "legacy"}', headers=[(b"Content-Type", b"application/json")]
        )
    return flow


def run_shadow(table, queue_url, scenario):
    """Run `scenario(shadow)` (async) with a configured Shadow addon; wait for its mirrors, stop it."""

    async def main():
        shadow = Shadow(table)
        with taddons.context(shadow) as tctx:
            tctx.configure(shadow, strangler_shadow_queue=queue_url)
            try:
                result = await scenario(shadow)
                await shadow.drain()
                return result
            finally:
                await shadow.done()

    return asyncio.run(main())


def read_pairs(url: str) -> list[ShadowPair]:
    pairs: list[ShadowPair] = []
    consume(url, lambda raw: pairs.append(ShadowPair.from_json(raw)), idle_timeout=0.05)
    return pairs


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def queue_url(tmp_path) -> str:
    return f"file://{tmp_path / 'queue'}"


def test_a_mirrored_request_publishes_legacys_answer_beside_the_candidates(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    published_before = metric("strangler_shadow_pairs_published_total", route="items")

    async def scenario(shadow):
        shadow.request(make_flow(table, path="/items/3?full=1", user="42"))

    run_shadow(table, queue_url, scenario)

    (pair,) = read_pairs(queue_url)
    assert (pair.route, pair.method, pair.path, pair.query, pair.user) == (
        "items",
        "GET",
        "/items/3",
        "full=1",
        "42",
    )
    assert pair.primary.json() == {"from": "legacy"}
    assert pair.candidate.json()["upstream"] == "candidate"
    assert pair.candidate.json()["path"] == "/items/3?full=1"
    assert pair.secondary is None
    assert pair.candidate2 is None
    assert metric("strangler_shadow_pairs_published_total", route="items") == published_before + 1


def test_nothing_is_mirrored_when_the_flag_is_off(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    skipped_before = metric("strangler_shadow_skipped_total", route="items", reason="flag_off")

    async def scenario(shadow):
        shadow.request(make_flow(table, flag_on=False))

    run_shadow(table, queue_url, scenario)

    assert read_pairs(queue_url) == []
    assert candidate.received == []
    assert metric("strangler_shadow_skipped_total", route="items", reason="flag_off") == skipped_before + 1


def test_a_user_outside_the_routes_sample_is_never_mirrored_and_one_inside_always_is(make_standin, queue_url):
    from strangler_proxy.shadow_copies import sampled

    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate, "{sample: 50}")
    inside = next(f"u{n}" for n in range(100) if sampled("items", f"user:u{n}", 50))
    outside = next(f"u{n}" for n in range(100) if not sampled("items", f"user:u{n}", 50))

    async def scenario(shadow):
        for _ in range(3):
            shadow.request(make_flow(table, user=inside))
            shadow.request(make_flow(table, user=outside))

    run_shadow(table, queue_url, scenario)

    assert [pair.user for pair in read_pairs(queue_url)] == [inside] * 3


def test_a_copy_slower_than_its_timeout_is_recorded_as_a_timeout(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    release = threading.Event()
    candidate.responder = lambda received: release.wait(10) and None
    table = route_table(legacy, candidate, "{timeout: 0.3}")
    timeouts_before = metric(
        "strangler_shadow_copy_errors_total", route="items", role="candidate", reason="timeout"
    )

    async def scenario(shadow):
        shadow.request(make_flow(table))

    try:
        run_shadow(table, queue_url, scenario)
    finally:
        release.set()

    (pair,) = read_pairs(queue_url)
    assert (pair.candidate.status, pair.candidate.error) == (0, "timeout")
    assert pair.primary.status == 200
    after = metric("strangler_shadow_copy_errors_total", route="items", role="candidate", reason="timeout")
    assert after == timeouts_before + 1


def test_copies_over_the_routes_shadow_bulkhead_are_skipped_not_queued(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    release = threading.Event()
    arrived = threading.Event()

    def gated(received):
        arrived.set()
        release.wait(10)

    candidate.responder = gated
    table = route_table(legacy, candidate, "{bulkhead: 1, timeout: 10}")
    full = ("strangler_shadow_copy_errors_total",)
    full_before = metric(*full, route="items", role="candidate", reason="bulkhead_full")

    async def scenario(shadow):
        shadow.request(make_flow(table, path="/items/1"))
        await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 10)  # the only slot is taken
        shadow.request(make_flow(table, path="/items/2"))
        for _ in range(500):  # until the second copy has been turned away
            if metric(*full, route="items", role="candidate", reason="bulkhead_full") > full_before:
                break
            await asyncio.sleep(0.01)
        release.set()

    run_shadow(table, queue_url, scenario)

    pairs = {pair.path: pair for pair in read_pairs(queue_url)}
    assert pairs["/items/2"].candidate.error == "bulkhead_full"
    assert pairs["/items/1"].candidate.status == 200
    assert [r.path for r in candidate.received] == ["/items/1"]


def test_legacys_answer_that_arrives_after_the_request_hook_comes_from_the_response_hook(
    make_standin, queue_url
):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)

    async def scenario(shadow):
        flow = make_flow(table, answered=False)  # a large answer mitmproxy forwards itself
        shadow.request(flow)
        await asyncio.sleep(0.05)
        flow.response = tflow.tresp(status_code=203, content=b'{"late": true}')
        flow.request.timestamp_start = time.time()
        shadow.response(flow)

    run_shadow(table, queue_url, scenario)

    (pair,) = read_pairs(queue_url)
    assert (pair.primary.status, pair.primary.body, pair.candidate.status) == (203, b'{"late": true}', 200)


def test_head_requests_are_not_mirrored(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    skipped_before = metric("strangler_shadow_skipped_total", route="items", reason="head")

    async def scenario(shadow):
        shadow.request(make_flow(table, method="HEAD"))
        shadow.request(make_flow(table, method="GET"))

    run_shadow(table, queue_url, scenario)

    assert [pair.method for pair in read_pairs(queue_url)] == ["GET"]
    assert [r.method for r in candidate.received] == ["GET"]
    assert metric("strangler_shadow_skipped_total", route="items", reason="head") == skipped_before + 1


def test_a_pair_that_cannot_be_queued_is_dropped_and_counted(make_standin, tmp_path):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the queue directory should be")
    dropped_before = metric("strangler_shadow_pairs_dropped_total", reason="publish_failed")

    async def scenario(shadow):
        shadow.request(make_flow(table))

    run_shadow(table, f"file://{blocker}", scenario)

    assert metric("strangler_shadow_pairs_dropped_total", reason="publish_failed") == dropped_before + 1


def test_compressed_answers_are_kept_decoded_on_both_sides(make_standin, queue_url):
    document = {"id": 1, "name": "x" * 500}
    gzipped = gzip.compress(json.dumps(document).encode())
    legacy = make_standin("legacy")
    candidate = SimpleNamespace(port=free_port())
    candidate.url = f"http://127.0.0.1:{candidate.port}"
    table = route_table(legacy, candidate)

    async def answer(request: web.Request) -> web.Response:
        return web.Response(
            body=gzipped, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    async def scenario(shadow):
        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", candidate.port).start()
        flow = make_flow(table, answered=False)
        flow.response = tflow.tresp(
            content=gzipped, headers=[(b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")]
        )
        try:
            shadow.request(flow)
            await shadow.drain()
        finally:
            await runner.cleanup()

    run_shadow(table, queue_url, scenario)

    (pair,) = read_pairs(queue_url)
    assert pair.primary.json() == pair.candidate.json() == document
    assert pair.primary.headers == pair.candidate.headers == {"content-type": "application/json"}


def test_a_jwt_requests_copies_carry_the_bearer_to_the_target_and_the_identity_header_to_the_secondary(
    make_standin, queue_url
):
    legacy, secondary, candidate = (
        make_standin("legacy"),
        make_standin("secondary"),
        make_standin("candidate"),
    )
    table = parse_routes(
        f"""
upstreams:
  legacy: {legacy.url}
  secondary: {secondary.url}
  candidate: {candidate.url}
routes:
  - id: items
    methods: [GET]
    path: ^/items(/.*)?$
    target: candidate
    flag: route.items
    mode: shadow
    shadow: {{secondary: secondary, candidate_repeats: 2}}
""",
        env={},
    )
    flow = make_flow(table, path="/items/5", user="7", answered=False)
    flow.request.headers["Authorization"] = "Bearer the.client.jwt"
    flow.metadata[CLAIMS_KEY] = AccessTokenClaims(
        subject="user:7",
        scopes=("read",),
        roles=("staff",),
        legacy_user_id=7,
        client_id=None,
        kid="k1",
        claims={"jti": "j-1"},
    )
    identity_header = IdentityHeader()
    with addon_context(identity_header, strangler_internal_identity_key="k" * 40):
        identity_header.request(flow)  # routed to legacy: the Bearer is swapped for the identity
    primary_identity = flow.request.headers[IDENTITY_HEADER]
    assert "Authorization" not in flow.request.headers
    flow.response = tflow.tresp(content=b"{}", headers=[(b"Content-Type", b"application/json")])

    async def scenario(shadow):
        shadow.request(flow)

    run_shadow(table, queue_url, scenario)

    copies = candidate.requests_to("/items/5")
    assert len(copies) == 2  # candidate and candidate2
    for copy in copies:
        assert copy.header("Authorization") == "Bearer the.client.jwt"
        assert copy.header(IDENTITY_HEADER) is None
        assert copy.header("X-Strangler-Shadow") == "1"
    (legacy_copy,) = secondary.requests_to("/items/5")
    assert legacy_copy.header("Authorization") is None
    assert legacy_copy.header(IDENTITY_HEADER) == primary_identity
    assert verify_identity(
        legacy_copy.header(IDENTITY_HEADER),
        key="k" * 40,
        method="GET",
        path="/items/5",
        query="",
        body=legacy_copy.body,  # the copy carries the primary's body, which the value binds
        replay=None,
    )
    (pair,) = read_pairs(queue_url)
    assert IDENTITY_HEADER.lower() not in {name.lower() for name in pair.request_headers}
    assert "the.client.jwt" not in json.dumps(dict(pair.request_headers))


def test_a_request_without_a_jwt_sends_its_copies_the_headers_legacy_got(make_standin, queue_url):
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    flow = make_flow(table, path="/items/8")
    flow.request.headers["Cookie"] = "sessionid=abc"

    async def scenario(shadow):
        shadow.request(flow)

    run_shadow(table, queue_url, scenario)

    (copy,) = candidate.requests_to("/items/8")
    assert copy.header("Cookie") == "sessionid=abc"
    assert copy.header("Authorization") is None


def test_the_request_hook_never_runs_the_mirror_itself_under_mitmproxys_eager_task_factory(
    make_standin, queue_url
):
    """mitmproxy runs its loop with asyncio.eager_task_factory: a mirror started with create_task() would
    send the copies and build the pair inside the hook, before the client gets legacy's answer."""
    legacy, candidate = make_standin("legacy"), make_standin("candidate")
    table = route_table(legacy, candidate)
    started: list[str] = []

    async def scenario(shadow):
        asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
        mirror = shadow._mirror

        async def recorded(capture):
            started.append("mirror")
            await mirror(capture)

        shadow._mirror = recorded
        shadow.request(make_flow(table, user="7"))
        assert started == []  # the hook returned without running any of the mirror
        await shadow.drain()
        assert started == ["mirror"]

    run_shadow(table, queue_url, scenario)

    (pair,) = read_pairs(queue_url)
    assert pair.candidate.json()["upstream"] == "candidate"
