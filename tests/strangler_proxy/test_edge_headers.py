"""Edge hardening at the wire, with raw sockets against a real gateway in front of a stand-in upstream:
folded and bare-CR headers, Host, hop-by-hop fields and Upgrade, X-Forwarded-*, request trailers, and what a
client can hold (head size while reading, head deadline, idle keep-alive, connections per address)."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import pytest

from tests.background import wait_until

from .conftest import write_flags_file, write_routes

WAIT = 30.0


def exchange(port: int, data: bytes, *, timeout: float = WAIT) -> bytes:
    """Send `data`, then read until the gateway closes the connection (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        answer = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                answer += chunk
    return answer


def status_of(answer: bytes) -> int | None:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else None


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1] or b"{}")


def get(path: str = "/api/v1/orders", *lines: str, version: str = "HTTP/1.1") -> bytes:
    head = [f"GET {path} {version}", *lines, "Connection: close", "", ""]
    return "\r\n".join(head).encode("latin-1")


@pytest.fixture
def gateway(gateway_process, standin_upstream):
    return gateway_process(legacy_url=standin_upstream.url)


def test_an_obs_fold_header_is_refused_and_not_forwarded(gateway, standin_upstream):
    answer = exchange(
        gateway.port, get("/api/v1/orders", "Host: s", "X-A: one", " X-Strangler-Identity: v1.x.y")
    )
    assert status_of(answer) == 400
    assert body_of(answer)["code"] == "malformed_header"
    assert standin_upstream.received == []


def test_a_bare_cr_in_a_header_is_refused(gateway, standin_upstream):
    answer = exchange(gateway.port, get("/api/v1/orders", "Host: s", "X-A: a\rX-Strangler-User-Id: 1"))
    assert status_of(answer) in (400,)
    assert standin_upstream.received == []


@pytest.mark.parametrize(
    ("lines", "version", "status"),
    [
        ((), "HTTP/1.1", 400),  # no Host
        (("Host: a", "Host: b"), "HTTP/1.1", 400),
        (("Host: evil.example/x",), "HTTP/1.1", 400),
        ((), "HTTP/1.0", 200),  # HTTP/1.0 may omit it
    ],
)
def test_http_1_1_needs_exactly_one_valid_host(gateway, standin_upstream, lines, version, status):
    answer = exchange(gateway.port, get("/api/v1/orders", *lines, version=version))
    assert status_of(answer) == status
    assert len(standin_upstream.received) == (1 if status == 200 else 0)


def test_hop_by_hop_fields_and_those_connection_lists_never_reach_the_upstream(gateway, standin_upstream):
    answer = exchange(
        gateway.port,
        get(
            "/api/v1/orders",
            "Host: s",
            "Connection: X-Secret, Keep-Alive",
            "X-Secret: 1",
            "Keep-Alive: timeout=5",
            "TE: trailers",
            "Proxy-Authorization: Basic eA==",
            "Upgrade: h2c",
        ),
    )
    assert status_of(answer) == 200
    seen = {name.lower() for name in standin_upstream.received[0].headers}
    assert not seen & {"x-secret", "keep-alive", "te", "proxy-authorization", "upgrade"}
    assert "upgrade" not in (standin_upstream.received[0].header("Connection") or "").lower()


def test_x_forwarded_fields_are_the_gateway_s_own(gateway, standin_upstream):
    answer = exchange(
        gateway.port,
        get(
            "/api/v1/orders",
            "Host: shop.techstore.example",
            "X-Forwarded-For: 6.6.6.6",
            "X-Forwarded-Host: evil.example",
            "X-Forwarded-Proto: https",
            "Forwarded: for=6.6.6.6",
            "X-Real-IP: 6.6.6.6",
        ),
    )
    assert status_of(answer) == 200
    got = standin_upstream.received[0]
    assert got.header("X-Forwarded-For") == "127.0.0.1"
    assert got.header("X-Forwarded-Host") == "shop.techstore.example"
    assert got.header("X-Forwarded-Proto") == "http"
    assert got.header("Forwarded") is None
    assert got.header("X-Real-IP") is None


def test_a_chunked_request_with_trailers_gets_an_answer(gateway, standin_upstream):
    request = (
        b"POST /api/v1/orders HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nhi\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    answer = exchange(gateway.port, request, timeout=10)
    assert status_of(answer) == 400
    assert standin_upstream.received == []


def test_upgrade_is_dropped_except_on_a_websocket_route(tmp_path, gateway_process, make_standin):
    legacy, chat = make_standin("legacy"), make_standin("chat")
    routes = write_routes(
        tmp_path / "routes.yaml",
        f"""\
upstreams:
  legacy: {legacy.url}
  chat: {chat.url}
routes:
  - id: chat
    path: ^/chat$
    legacy: null
    target: chat
    websocket: true
""",
    )
    gateway = gateway_process(routes_yaml=routes, flags_file=write_flags_file(tmp_path / "f.json"))
    upgrade = ("Host: s", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13")
    exchange(gateway.port, get("/chat", *upgrade), timeout=10)
    exchange(gateway.port, get("/other", *upgrade), timeout=10)
    assert chat.received[0].header("Upgrade") == "websocket"
    assert legacy.received[0].header("Upgrade") is None


# --- what a client can hold ------------------------------------------------------------------------------


@pytest.fixture
def tight_gateway(gateway_process, standin_upstream):
    limits = [
        "--set", "strangler_max_head_bytes=65536",
        "--set", "strangler_head_timeout=1",
        "--set", "strangler_idle_timeout=1",
        "--set", "strangler_max_client_connections=3",
    ]  # fmt: skip
    return gateway_process(legacy_url=standin_upstream.url, extra_args=limits)


def test_a_huge_header_is_refused_while_it_is_read(tight_gateway, standin_upstream):
    with socket.create_connection(("127.0.0.1", tight_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: s\r\nX-Big: ")
        sent, refused = 0, b""
        try:
            while sent < 64 * 1024 * 1024:  # 64 MB, unless the gateway stops it first
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError):
            refused = sock.recv(65536)
    assert sent < 4 * 1024 * 1024  # refused long before the 64 MB were read
    assert refused in (b"",) or status_of(refused) == 431
    assert standin_upstream.received == []


def test_a_head_that_dribbles_in_gets_408_at_its_deadline(tight_gateway, standin_upstream):
    with socket.create_connection(("127.0.0.1", tight_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        answer = b""
        started = time.monotonic()
        try:
            while time.monotonic() - started < 20:
                sock.sendall(b"X: y\r\n")  # one header line every 0.2 s, never the blank line
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        with contextlib.suppress(ConnectionResetError):
            answer = sock.recv(65536)
    assert status_of(answer) == 408
    assert standin_upstream.received == []


def test_an_idle_keep_alive_connection_is_closed(tight_gateway):
    with socket.create_connection(("127.0.0.1", tight_gateway.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /_strangler/health HTTP/1.1\r\nHost: s\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # b"" once the gateway closes the idle connection (else: timeout)
            answer += chunk
    assert status_of(answer) == 200
    assert answer.count(b"HTTP/1.1") == 1


def test_a_silent_new_connection_is_closed_at_the_head_deadline(tight_gateway):
    with socket.create_connection(("127.0.0.1", tight_gateway.port), timeout=WAIT) as sock:
        answer = sock.recv(65536)  # b"" once the gateway closes it; a TimeoutError after WAIT otherwise
    assert answer == b""


def test_a_connection_that_stops_after_its_first_byte_gets_408(tight_gateway):
    answer = exchange(tight_gateway.port, b"G")
    assert status_of(answer) == 408


@pytest.fixture
def capped_gateway(gateway_process, standin_upstream):
    """Only the connection cap: with tight_gateway's 1 s head deadline, connections held silent are closed
    after 1 s, which a loaded machine reaches before the extra connection arrives."""
    return gateway_process(
        legacy_url=standin_upstream.url, extra_args=["--set", "strangler_max_client_connections=3"]
    )


def test_a_client_address_holds_at_most_its_cap_of_connections(capped_gateway):
    held = [socket.create_connection(("127.0.0.1", capped_gateway.port), timeout=WAIT) for _ in range(3)]
    try:
        time.sleep(0.3)
        extra = exchange(capped_gateway.port, b"GET /_strangler/health HTTP/1.1\r\nHost: s\r\n\r\n")
        assert extra == b""  # closed without an answer
    finally:
        for sock in held:
            sock.close()
    # once the gateway has seen the held connections close, the address may connect again
    wait_until(
        lambda: status_of(exchange(capped_gateway.port, get("/_strangler/health", "Host: s"))) == 200,
        "a new connection once the held ones are closed",
        WAIT,
    )


# --- a body sent to a path the gateway answers itself ------------------------------------------------------

BIG_BODY = 3 * 1024 * 1024  # over the 1 MB past which mitmproxy streams a body


@pytest.mark.parametrize("path", ["/_strangler/health", "/metrics"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_large_body_to_a_gateway_answered_path_is_dropped_and_the_connection_still_serves(
    gateway, standin_upstream, path, framing
):
    chunk = b"x" * 65536
    if framing == "content-length":
        head = f"POST {path} HTTP/1.1\r\nHost: s\r\nContent-Length: {BIG_BODY}\r\n\r\n".encode()
        body = chunk * (BIG_BODY // len(chunk))
    else:
        head = f"POST {path} HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        body = framed * (BIG_BODY // len(chunk)) + b"0\r\n\r\n"
    answer = exchange(gateway.port, head + body + get("/_strangler/health", "Host: s"))
    assert answer.count(b"HTTP/1.1 ") == 2  # the answer, then the next request on the same connection
    assert status_of(answer) == (200 if path == "/_strangler/health" else 404)
    assert standin_upstream.received == []
    assert "Traceback" not in gateway.log()
