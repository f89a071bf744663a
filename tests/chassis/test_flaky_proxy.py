"""The TCP fault proxy the broker drills use, against a local echo server: it forwards, drops the first N
connections on request, and cut() ends live connections and refuses new ones until restore()."""

import contextlib
import socket
import threading

import pytest

from tests.chassis.flaky_proxy import FlakyProxy


@pytest.fixture
def echo_server():
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(1024):
                conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()
    server.close()


def round_trip(port: int, payload: bytes = b"ping") -> bytes:
    """What comes back for `payload` on a new connection (b"" when the proxy closed it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(payload)
            return conn.recv(1024)
        except (ConnectionResetError, BrokenPipeError):
            return b""


def test_the_first_connections_are_dropped_then_traffic_flows(echo_server):
    with FlakyProxy(echo_server, drop_first=2) as proxy:
        assert [round_trip(proxy.port) for _ in range(3)] == [b"", b"", b"ping"]
        assert proxy.accepted == 3


def test_a_cut_ends_live_connections_and_refuses_new_ones_until_restored(echo_server):
    with FlakyProxy(echo_server) as proxy:
        live = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        live.sendall(b"before")
        assert live.recv(1024) == b"before"
        proxy.cut()
        with contextlib.suppress(OSError):
            live.sendall(b"during")
        with contextlib.suppress(ConnectionResetError):
            assert live.recv(1024) == b""
        live.close()
        assert round_trip(proxy.port) == b""
        proxy.restore()
        assert round_trip(proxy.port) == b"ping"
