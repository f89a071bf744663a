"""The Forwarder against real upstream servers: what it sends and returns, fallback, breakers, bulkheads,
large bodies left to mitmproxy; and a 100 MB answer through a real gateway process."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest
import requests
from mitmproxy import exceptions
from mitmproxy.addons.proxyserver import Proxyserver
from mitmproxy.test import taddons, tflow

from kernel.resilience import BreakerState
from strangler_proxy.forwarding import PASSTHROUGH_KEY, Forwarder, ForwardResult
from strangler_proxy.routes import Decision, Upstream
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY
from tests.strangler_proxy.conftest import free_port, write_flags_file, write_routes


class FakeClock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


# --- a shaped upstream: answers whose form the echo stand-in cannot give -------------------------------

BIG_CHUNK = b"x" * 65536


class _ShapedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.hits.append(self.path)
        if self.path == "/cookies":
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Set-Cookie", "sessionid=abc; HttpOnly; Path=/")
            self.send_header("Set-Cookie", "csrftoken=def; Path=/")
            self.send_header("Keep-Alive", "timeout=5")
            self.send_header("X-Private-Hop", "1")
            self.send_header("Connection", "X-Private-Hop")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.startswith("/chunked/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            while sent < size:
                piece = BIG_CHUNK[: min(len(BIG_CHUNK), size - sent)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            self.wfile.write(b"0\r\n\r\n")
        elif self.path.startswith("/big/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            sent = 0
            try:
                while sent < size:
                    piece = BIG_CHUNK[: min(len(BIG_CHUNK), size - sent)]
                    self.wfile.write(piece)
                    sent += len(piece)
            except OSError:
                self.close_connection = True
        else:
            self.send_error(404)

    def do_POST(self):
        if self.path != "/sink":
            return self.do_GET()
        self.server.hits.append(self.path)
        remaining, received = int(self.headers.get("Content-Length") or 0), 0
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
            received += len(chunk)
        body = json.dumps({"received": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):  # headers of /big/N, no body
        size = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/big/") else 0
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()


@pytest.fixture
def shaped_upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ShapedHandler)
    server.daemon_threads = True
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# --- helpers -------------------------------------------------------------------------------------------


def upstream(name: str, port: int) -> Upstream:
    return Upstream(name, "http", "127.0.0.1", port)


def closed_port_upstream(name: str = "product") -> Upstream:
    return upstream(name, free_port())  # nothing listens there: connection refused


def decision(target: Upstream, fallback: Upstream | None = None, **fields) -> Decision:
    values = {
        "route_id": "catalog.read",
        "mode": "route",
        "flag": "route.catalog.read",
        "flag_enabled": True,
        "upstream": target,
        "fallback": fallback,
        "shadow": None,
        "timeout": 5.0,
        "bulkhead": 10,
        "idempotent": True,
    }
    values.update(fields)
    return Decision(**values)


def make_flow(method="GET", path="/api/v1/catalog/products/1", body=b"", headers=None, route=None):
    flow = tflow.tflow()
    flow.request.method = method
    flow.request.path = path
    flow.request.headers.clear()
    flow.request.headers["Host"] = "gateway.test"
    for name, value in (headers or {}).items():
        flow.request.headers.add(name, value)
    flow.request.content = body
    if route is not None:
        flow.metadata[DECISION_KEY] = route
    return flow


def run_forwarder(scenario, clock=None, **options):
    """Run `scenario(forwarder)` in an event loop with a configured Forwarder; close it afterwards."""

    async def main():
        forwarder = Forwarder(clock=clock) if clock else Forwarder()
        with taddons.context(forwarder) as tctx:
            tctx.configure(forwarder, **options)
            try:
                return await scenario(forwarder)
            finally:
                await forwarder.done()

    return asyncio.run(main())


def echo(flow) -> dict:
    return json.loads(flow.response.content)


# --- what goes up and what comes back ------------------------------------------------------------------


def test_forwards_method_path_query_headers_and_body_but_no_hop_by_hop_headers(make_standin):
    product = make_standin("product")
    flow = make_flow(
        "POST",
        "/api/v1/catalog/products?q=usb%20c&page=2",
        b'{"name": "cable"}',
        {
            "Content-Type": "application/json",
            "X-Request-ID": "req-1",
            "Cookie": "sessionid=abc",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Proxy-Authorization": "Basic eA==",
        },
        decision(upstream("product", product.port), idempotent=False),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    seen = echo(flow)
    assert flow.response.status_code == 200
    assert seen["method"] == "POST"
    assert seen["path"] == "/api/v1/catalog/products?q=usb%20c&page=2"
    assert seen["body"] == '{"name": "cable"}'
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["content-type"] == "application/json"
    assert headers["x-request-id"] == "req-1"
    assert headers["cookie"] == "sessionid=abc"
    assert headers["host"] == f"127.0.0.1:{product.port}"
    for absent in ("keep-alive", "te", "proxy-authorization", "user-agent", "accept", "accept-encoding"):
        assert absent not in headers
    assert flow.response.headers["X-Strangler-Upstream"] == "product"
    result = flow.metadata[FORWARD_KEY]
    assert isinstance(result, ForwardResult)
    assert (result.upstream_name, result.status, result.fallback, result.error) == (
        "product",
        200,
        False,
        None,
    )


def test_answer_keeps_repeated_set_cookie_and_drops_hop_by_hop_headers(shaped_upstream):
    flow = make_flow(path="/cookies", route=decision(upstream("product", shaped_upstream.server_port)))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    headers = flow.response.headers
    assert headers.get_all("Set-Cookie") == ["sessionid=abc; HttpOnly; Path=/", "csrftoken=def; Path=/"]
    for absent in ("Keep-Alive", "Connection", "X-Private-Hop"):
        assert absent not in headers
    assert flow.response.content == b'{"ok": true}'


def test_a_chunked_answer_is_returned_whole_with_a_content_length(shaped_upstream):
    flow = make_flow(path="/chunked/200000", route=decision(upstream("product", shaped_upstream.server_port)))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert len(flow.response.content) == 200000
    assert flow.response.headers["Content-Length"] == "200000"
    assert "Transfer-Encoding" not in flow.response.headers


def test_head_is_left_to_mitmproxy_and_diverted_only_by_an_open_breaker(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    target, fallback = upstream("product", product.port), upstream("legacy", legacy.port)

    async def scenario(forwarder):
        head = make_flow("HEAD", route=decision(target, fallback))
        forwarder.requestheaders(head)
        await forwarder.request(head)
        for _ in range(2):
            failing = make_flow(route=decision(closed_port_upstream("product"), fallback))
            await forwarder.request(failing)
        diverted = make_flow("HEAD", route=decision(target, fallback))
        forwarder.requestheaders(diverted)
        return head, diverted

    head, diverted = run_forwarder(scenario, strangler_breaker_failures=2)
    assert head.response is None
    assert head.metadata[PASSTHROUGH_KEY] == "request"
    assert diverted.request.port == legacy.port  # rewritten before mitmproxy connects anywhere
    assert diverted.metadata[FORWARD_KEY].fallback is True
    assert product.received == []  # HEADs are sent by mitmproxy, which this test does not run


def test_pooled_connections_are_reused_across_client_connections(make_standin):
    product = make_standin("product")
    route = decision(upstream("product", product.port))

    async def scenario(forwarder):
        for _ in range(5):
            flow = make_flow(route=route)  # a new client connection each time
            await forwarder.request(flow)
        connector = forwarder._client().connector
        return sum(len(conns) for conns in connector._conns.values())

    idle = run_forwarder(scenario)
    assert idle == 1
    assert len(product.received) == 5


# --- failures and fallback -----------------------------------------------------------------------------


def test_get_falls_back_to_legacy_when_the_target_refuses_connections(make_standin):
    legacy = make_standin("legacy")
    flow = make_flow(route=decision(closed_port_upstream(), upstream("legacy", legacy.port)))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert flow.response.status_code == 200
    assert echo(flow)["upstream"] == "legacy"
    assert flow.response.headers["X-Strangler-Upstream"] == "legacy"
    result = flow.metadata[FORWARD_KEY]
    assert result.fallback is True
    assert result.upstream_name == "legacy"
    assert result.error == "connect_failed; fallback: ok"


def test_post_without_idempotency_gets_503_with_a_clear_body_when_the_target_is_down(make_standin):
    legacy = make_standin("legacy")
    flow = make_flow(
        "POST",
        body=b"{}",
        route=decision(closed_port_upstream(), upstream("legacy", legacy.port), idempotent=False),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert flow.response.status_code == 503
    assert json.loads(flow.response.content) == {
        "code": "upstream_unavailable",
        "message": "The upstream product is not available; try again later.",
        "extra": {"upstream": "product", "reason": "connect_failed"},
    }
    assert flow.response.headers["Content-Type"] == "application/json"
    assert legacy.received == []


def test_post_with_idempotency_key_falls_back_when_the_target_never_got_it(make_standin):
    legacy = make_standin("legacy")
    flow = make_flow(
        "POST",
        body=b"{}",
        headers={"Idempotency-Key": "k1"},
        route=decision(closed_port_upstream(), upstream("legacy", legacy.port), idempotent=True),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert echo(flow)["upstream"] == "legacy"


def test_post_with_idempotency_key_is_not_resent_once_the_target_may_have_processed_it(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    product.fail_status = 503
    flow = make_flow(
        "POST",
        body=b"{}",
        headers={"Idempotency-Key": "k1"},
        route=decision(upstream("product", product.port), upstream("legacy", legacy.port), idempotent=True),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert flow.response.status_code == 503
    assert echo(flow)["upstream"] == "product"  # the target's own answer, not ours
    assert legacy.received == []


def test_put_falls_back_after_a_read_timeout(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    product.delay = 2.0
    flow = make_flow(
        "PUT",
        "/api/v1/orders/cart/items/3",
        b'{"quantity": 2}',
        route=decision(upstream("product", product.port), upstream("legacy", legacy.port), timeout=0.3),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert echo(flow)["upstream"] == "legacy"
    assert echo(flow)["body"] == '{"quantity": 2}'
    assert flow.metadata[FORWARD_KEY].error == "timeout; fallback: ok"


def test_a_target_5xx_answer_is_kept_when_there_is_no_fallback(make_standin):
    product = make_standin("product")
    product.fail_status = 502
    flow = make_flow(route=decision(upstream("product", product.port)))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert flow.response.status_code == 502
    assert flow.metadata[FORWARD_KEY].error == "status_502"


def test_open_breaker_sends_get_straight_to_legacy_and_post_gets_503_with_retry_after(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    product.fail_status = 503
    target, fallback = upstream("product", product.port), upstream("legacy", legacy.port)

    async def scenario(forwarder):
        for _ in range(2):  # two failures open the breaker
            await forwarder.request(make_flow(route=decision(target, fallback)))
        assert forwarder.breaker("catalog.read", "product").state is BreakerState.OPEN
        product.reset()
        get = make_flow(route=decision(target, fallback))
        await forwarder.request(get)
        post = make_flow("POST", body=b"{}", route=decision(target, fallback, idempotent=False))
        await forwarder.request(post)
        return get, post

    get, post = run_forwarder(scenario, strangler_breaker_failures=2, strangler_breaker_cooldown="30")
    assert product.received == []  # the open breaker kept both away from the target
    assert echo(get)["upstream"] == "legacy"
    assert get.metadata[FORWARD_KEY].breaker_state == "open"
    assert post.response.status_code == 503
    assert json.loads(post.response.content)["extra"] == {"upstream": "product", "reason": "breaker_open"}
    assert post.response.headers["Retry-After"] == "30"


def test_breaker_lets_a_trial_call_through_after_the_cooldown_and_closes(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    target, fallback = upstream("product", product.port), upstream("legacy", legacy.port)
    clock = FakeClock()
    product.fail_status = 503

    async def scenario(forwarder):
        for _ in range(2):
            await forwarder.request(make_flow(route=decision(target, fallback)))
        product.reset()
        clock.now += 10
        flow = make_flow(route=decision(target, fallback))
        await forwarder.request(flow)
        return flow, forwarder.breaker("catalog.read", "product").state

    flow, state = run_forwarder(
        scenario, clock=clock, strangler_breaker_failures=2, strangler_breaker_cooldown="5"
    )
    assert echo(flow)["upstream"] == "product"
    assert state is BreakerState.CLOSED


def test_a_full_bulkhead_sends_get_to_legacy_and_post_gets_503(make_standin):
    product, legacy = make_standin("product"), make_standin("legacy")
    product.delay = 0.5
    target, fallback = upstream("product", product.port), upstream("legacy", legacy.port)

    async def scenario(forwarder):
        slow = make_flow(route=decision(target, fallback, bulkhead=1))
        get = make_flow(route=decision(target, fallback, bulkhead=1))
        post = make_flow("POST", body=b"{}", route=decision(target, fallback, bulkhead=1, idempotent=False))
        first = asyncio.create_task(forwarder.request(slow))
        await asyncio.sleep(0.1)  # the slow call holds the only slot
        await forwarder.request(get)
        await forwarder.request(post)
        await first
        return slow, get, post

    slow, get, post = run_forwarder(scenario, strangler_bulkhead_queue_timeout="0.05")
    assert echo(slow)["upstream"] == "product"
    assert echo(get)["upstream"] == "legacy"
    assert get.metadata[FORWARD_KEY].error == "bulkhead_full; fallback: ok"
    assert post.response.status_code == 503
    assert json.loads(post.response.content)["extra"]["reason"] == "bulkhead_full"
    assert post.response.headers["Retry-After"] == "1"


# --- flows left to mitmproxy ---------------------------------------------------------------------------


def test_a_large_answer_to_get_is_left_to_mitmproxy_streaming(shaped_upstream):
    target = upstream("product", shaped_upstream.server_port)
    flow = make_flow(path="/big/50000", route=decision(target))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario, strangler_buffer_limit="16k")
    assert flow.response is None  # mitmproxy forwards it itself, streaming
    assert flow.metadata[PASSTHROUGH_KEY] == "response"
    assert (flow.request.host, flow.request.port) == ("127.0.0.1", shaped_upstream.server_port)
    assert flow.metadata[FORWARD_KEY].passthrough is True


def test_a_large_chunked_answer_to_get_is_left_to_mitmproxy_streaming(shaped_upstream):
    flow = make_flow(path="/chunked/500000", route=decision(upstream("product", shaped_upstream.server_port)))

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario, strangler_buffer_limit="16k")
    assert flow.response is None
    assert flow.metadata[PASSTHROUGH_KEY] == "response"


def test_a_large_answer_to_post_is_buffered_since_post_cannot_be_sent_twice(shaped_upstream):
    flow = make_flow(
        "POST",
        "/big/50000",
        b"{}",
        route=decision(upstream("product", shaped_upstream.server_port), idempotent=False),
    )

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario, strangler_buffer_limit="16k")
    assert len(flow.response.content) == 50000
    assert shaped_upstream.hits == ["/big/50000"]


def test_a_streamed_request_body_is_left_to_mitmproxy(make_standin):
    product = make_standin("product")
    flow = make_flow("POST", body=b"", route=decision(upstream("product", product.port)))
    flow.request.stream = True

    async def scenario(forwarder):
        await forwarder.request(flow)

    run_forwarder(scenario)
    assert flow.response is None
    assert flow.metadata[PASSTHROUGH_KEY] == "request"
    assert product.received == []


def test_answers_to_flows_mitmproxy_forwarded_count_for_the_breaker_and_the_record():
    target = upstream("product", 1)

    async def scenario(forwarder):
        flows = []
        for status in (503, 503):
            flow = make_flow("POST", route=decision(target))
            flow.metadata[PASSTHROUGH_KEY] = "request"
            flow.response = tflow.tresp(status_code=status)
            forwarder.response(flow)
            flows.append(flow)
        return flows, forwarder.breaker("catalog.read", "product").state

    flows, state = run_forwarder(scenario, strangler_breaker_failures=2)
    assert state is BreakerState.OPEN
    result = flows[-1].metadata[FORWARD_KEY]
    assert (result.upstream_name, result.status, result.passthrough, result.breaker_state) == (
        "product",
        503,
        True,
        "open",
    )


def test_flows_already_answered_or_without_a_decision_are_skipped(make_standin):
    product = make_standin("product")
    answered = make_flow(route=decision(upstream("product", product.port)))
    answered.response = tflow.tresp()
    undecided = make_flow()

    async def scenario(forwarder):
        await forwarder.request(answered)
        await forwarder.request(undecided)

    run_forwarder(scenario)
    assert FORWARD_KEY not in answered.metadata
    assert undecided.response is None
    assert product.received == []


# --- configuration -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"strangler_connect_timeout": "soon"},
        {"strangler_connect_timeout": "0"},
        {"strangler_read_timeout": "-1"},
        {"strangler_buffer_limit": "lots"},
        {"strangler_upstream_timeouts": "legacy:total=3"},
        {"strangler_breaker_failures": 0},
        {"strangler_breaker_failure_rate": "2"},
        {"strangler_breaker_cooldown": "0"},
        {"strangler_breaker_failure_statuses": "404"},
        {"strangler_bulkhead_queue_timeout": "-0.1"},
    ],
)
def test_bad_options_are_refused_at_configure_time(options):
    forwarder = Forwarder()
    with taddons.context(forwarder) as tctx, pytest.raises(exceptions.OptionsError):
        tctx.configure(forwarder, **options)


def test_stream_large_bodies_is_set_to_the_buffer_limit_when_unset():
    forwarder = Forwarder()
    with taddons.context(Proxyserver(), forwarder) as tctx:
        tctx.configure(forwarder, strangler_buffer_limit="2m")
        assert tctx.options.stream_large_bodies == "2m"
        tctx.configure(forwarder, stream_large_bodies="5m")
        assert tctx.options.stream_large_bodies == "5m"  # an explicit setting is kept


# --- a real gateway process: a 100 MB answer streams through with flat memory --------------------------


@pytest.mark.e2e
def test_a_100_mb_answer_streams_through_the_gateway_with_flat_memory(
    shaped_upstream, gateway_process, tmp_path
):
    port = shaped_upstream.server_port
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"""
upstreams:
  legacy: http://127.0.0.1:{port}
defaults: {{legacy: legacy, timeout: 60, bulkhead: 10}}
routes: []
""",
    )
    flags = write_flags_file(tmp_path / "flags.json")
    gateway = gateway_process(routes, flags, {"GATEWAY_AUDIT_LOG": ""}, legacy_url=f"http://127.0.0.1:{port}")
    process = psutil.Process(gateway.process.pid)
    session = requests.Session()
    for _ in range(3):  # warm up: imports, pools
        session.get(f"{gateway.url}/big/100000", timeout=30).raise_for_status()
    before = process.memory_info().rss
    size = 100 * 1024 * 1024
    received = 0
    peak = before
    with session.get(f"{gateway.url}/big/{size}", stream=True, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_content(1 << 20):
            received += len(chunk)
            peak = max(peak, process.memory_info().rss)
    after = process.memory_info().rss
    growth_mb = (peak - before) / 2**20
    mb = 2**20
    print(f"gateway RSS before {before / mb:.1f} MB, peak {peak / mb:.1f} MB, after {after / mb:.1f} MB")
    assert received == size
    assert growth_mb < 60, f"RSS grew by {growth_mb:.1f} MB while streaming 100 MB"


class _RudeHeadServer:
    """Answers every request with a body, HEAD included (as gunicorn serving Django does), keep-alive."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while data := conn.recv(65536):
                buffer += data
                while b"\r\n\r\n" in buffer:
                    _, buffer = buffer.split(b"\r\n\r\n", 1)
                    body = b'{"rude": true}'
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))


@pytest.mark.e2e
def test_a_body_sent_to_head_never_breaks_the_next_answers(gateway_process, tmp_path):
    rude = _RudeHeadServer()
    try:
        gateway = gateway_process(env={"GATEWAY_AUDIT_LOG": ""}, legacy_url=f"http://127.0.0.1:{rude.port}")
        session = requests.Session()
        statuses = []
        for _ in range(5):
            statuses.append(session.head(f"{gateway.url}/x", timeout=10).status_code)
            statuses.append(session.get(f"{gateway.url}/x", timeout=10).status_code)
            statuses.append(requests.get(f"{gateway.url}/x", timeout=10).status_code)  # a pooled connection
    finally:
        rude.sock.close()
    assert statuses == [200] * 15


@pytest.mark.e2e
def test_a_large_upload_streams_through_the_gateway_with_flat_memory(shaped_upstream, gateway_process):
    port = shaped_upstream.server_port
    gateway = gateway_process(env={"GATEWAY_AUDIT_LOG": ""}, legacy_url=f"http://127.0.0.1:{port}")
    process = psutil.Process(gateway.process.pid)
    requests.post(f"{gateway.url}/sink", data=b"x" * 1000, timeout=30).raise_for_status()  # warm up
    before = process.memory_info().rss
    size = 50 * 1024 * 1024

    response = requests.post(f"{gateway.url}/sink", data=b"x" * size, timeout=60)
    growth_mb = (process.memory_info().rss - before) / 2**20
    print(f"gateway RSS grew by {growth_mb:.1f} MB for a 50 MB upload")
    assert response.json() == {"received": size}
    assert growth_mb < 30
