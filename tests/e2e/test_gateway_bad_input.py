"""Hostile input through the REAL gateway (mitmdump + strangler_proxy/addon.py) in front of a stand-in
upstream: every case gets a clean 4xx in the monolith's JSON error shape, and nothing reaches the upstream.
Also: the gateway refuses to start on a bad route table, naming the file and the line."""

import json
import socket
import time

import pytest
import requests
from django.core.management import call_command

from strangler_proxy.routes_parser import load_routes
from strangler_proxy.routing import DEFAULT_ROUTES_FILE
from tests.strangler_proxy.conftest import (
    GatewayStartError,
    StandinUpstream,
    start_gateway,
    write_flags_file,
    write_routes,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream():
    standin = StandinUpstream("legacy").start()
    yield standin
    standin.stop()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway-bad-input")
    routes = write_routes(tmp / "routes.yaml", f"upstreams:\n  legacy: {upstream.url}\nroutes: []\n")
    running = start_gateway(
        log_path=tmp / "gateway.log",
        routes_yaml=routes,
        flags_file=write_flags_file(tmp / "flags.json"),
        legacy_url=upstream.url,
    )
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh_upstream(upstream):
    upstream.reset()


def send_raw(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Write raw bytes on a new connection and read the answer until the gateway closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received:
                head, _, body = received.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
        return received


def parse_answer(raw: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, json.loads(body)


def head(path: bytes, *extra: bytes) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: shop.example\r\n" + b"".join(extra) + b"\r\n"


# (name, raw request, status, code)
BAD_INPUT = [
    ("dot-dot segment", head(b"/api/v1/../../etc/passwd"), 400, "bad_request_path"),
    ("encoded dot-dot", head(b"/api/v1/%2e%2e/%2E%2E/admin"), 400, "bad_request_path"),
    ("half-encoded dot-dot", head(b"/api/v1/.%2e/admin"), 400, "bad_request_path"),
    ("encoded slash", head(b"/api/v1%2f..%2fadmin"), 400, "bad_request_path"),
    ("double slash", head(b"//api/v1/catalog/products"), 400, "bad_request_path"),
    ("raw NUL", head(b"/api/v1/x\x00.json"), 400, "bad_request_path"),
    ("encoded NUL", head(b"/api/v1/x%00.json"), 400, "bad_request_path"),
    ("asterisk target", b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request_path"),
    (
        "1 MB header",
        head(b"/api/v1/x", b"X-Big: " + b"a" * 1_000_000 + b"\r\n"),
        431,
        "request_header_fields_too_large",
    ),
    (
        "64 KB of headers",
        head(b"/api/v1/x", *(b"X-H%d: %s\r\n" % (i, b"a" * 8000) for i in range(8))),
        431,
        "request_header_fields_too_large",
    ),
    (
        "2000 header fields",
        head(b"/api/v1/x", *(b"X-H%d: v\r\n" % i for i in range(2000))),
        431,
        "request_header_fields_too_large",
    ),
    ("10 KB request target", head(b"/api/v1/" + b"a" * 10_000), 414, "uri_too_long"),
    ("garbage request line", b"GARBAGE\r\n\r\n", 400, "malformed_request"),
    ("unknown HTTP version", b"GET /api/v1/x HTTP/9.9\r\nHost: a\r\n\r\n", 400, "unsupported_http_version"),
    ("invalid header name", head(b"/api/v1/x", b"Bad Header: v\r\n"), 400, "malformed_request"),
    (
        "CL.TE smuggling",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        "malformed_request",
    ),
    (
        "TE.CL smuggling",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        b"5\r\nabcde\r\n0\r\n\r\n",
        400,
        "malformed_request",
    ),
    (
        "duplicate Content-Length",
        b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
        400,
        "malformed_request",
    ),
    (
        "bad chunked body",
        b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        400,
        "malformed_request",
    ),
    (
        "CONNECT in reverse mode",
        b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
        400,
        "malformed_request",
    ),
]


@pytest.mark.parametrize(("raw", "status", "code"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT])
def test_bad_input_gets_a_clean_4xx_from_the_gateway_and_nothing_reaches_the_upstream(
    gateway, upstream, raw, status, code
):
    answer = send_raw(gateway.port, raw)

    got_status, headers, body = parse_answer(answer)
    assert (got_status, body["code"]) == (status, code), answer[:500]
    assert set(body) == {"code", "message", "extra"}
    assert headers["content-type"] == "application/json"
    assert "mitmproxy" not in answer.decode("latin-1").lower()
    time.sleep(0.1)  # anything forwarded would have arrived by now
    assert upstream.received == []


def test_a_refused_request_still_carries_a_request_id(gateway):
    status, headers, _body = parse_answer(
        send_raw(gateway.port, head(b"/a/../b", b"X-Request-ID: probe-1\r\n"))
    )

    assert status == 400
    assert headers["x-request-id"] == "probe-1"


def test_client_internal_headers_never_reach_the_upstream_and_trace_headers_do(gateway, upstream):
    answer = requests.get(
        f"{gateway.url}/api/v1/catalog/products",
        headers={"X-Strangler-User-Id": "1", "x-strangler-route": "admin", "X-Request-ID": "probe-2"},
        timeout=10,
    )

    assert answer.status_code == 200
    (received,) = upstream.received
    assert not [name for name in received.headers if name.lower().startswith("x-strangler-")]
    assert received.header("X-Request-ID") == answer.headers["X-Request-ID"] == "probe-2"
    assert received.header("traceparent") == answer.headers["traceparent"]
    assert answer.headers["X-Strangler-Route"] == "default"
    assert answer.headers["X-Strangler-Upstream"] == "legacy"


def test_the_gateway_refuses_to_start_on_a_bad_route_table_and_names_the_file_and_line(upstream, tmp_path):
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"upstreams:\n  legacy: {upstream.url}\nroutes:\n"
        "  - id: catalog.read\n    path: ^/api/v1/catalog\n"
        "    target: prodcut\n    flag: route.catalog.read\n",
    )

    with pytest.raises(GatewayStartError) as caught:
        start_gateway(
            log_path=tmp_path / "gateway.log",
            routes_yaml=routes,
            flags_file=write_flags_file(tmp_path / "flags.json"),
            legacy_url=upstream.url,
        )

    assert caught.value.returncode not in (None, 0)
    assert f"{routes}:6: route 'catalog.read': target: unknown upstream 'prodcut'" in caught.value.log


def test_the_gateway_command_checks_the_route_table_and_prints_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json")))
    out = []

    class Out:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    call_command(
        "gateway", "--runner", "mitmdump", "--listen", "127.0.0.1:18080", "--print-command", stdout=Out()
    )

    printed = "".join(out)
    routes = load_routes(DEFAULT_ROUTES_FILE)
    assert f"routes.yaml: {len(routes.routes)} routes; runner: mitmdump" in printed
    assert "--mode reverse:http://127.0.0.1:8000" in printed
    assert "--listen-port 18080" in printed


def test_the_gateway_command_stops_on_an_unknown_flag_naming_the_line(tmp_path, monkeypatch):
    from contracts.cli import UsageError

    monkeypatch.setenv("FLAGS_FILE", str(write_flags_file(tmp_path / "flags.json")))
    routes = write_routes(
        tmp_path / "routes.yaml",
        "upstreams:\n  legacy: http://127.0.0.1:8000\n  product: http://127.0.0.1:8101\nroutes:\n"
        "  - id: x\n    path: ^/x\n    target: product\n    flag: route.nope\n",
    )

    with pytest.raises(UsageError, match=r"routes.yaml:8: route 'x': flag 'route.nope' does not exist"):
        call_command("gateway", "--routes", str(routes), "--print-command")
