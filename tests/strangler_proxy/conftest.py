"""Fixtures of the gateway tests: a stand-in upstream service and a real gateway process.

`standin_upstream` is a tiny real HTTP/1.1 server (keep-alive capable, threaded) that answers every request
with a JSON echo of what it received; it can be told to fail, to slow down, to die and to come back.
`gateway_process(...)` starts the gateway (mitmdump + strangler_proxy/addon.py) on a free port and stops it
after the test. Both are usable from tests/e2e too (`pytest_plugins = ["tests.strangler_proxy.conftest"]`
is not needed there: import the fixtures or the classes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from mitmproxy.log import LegacyLogEvents
from mitmproxy.test import taddons

from flags.config import BOOTSTRAP_FILE
from legacy_monolith.demo.processes import free_port, stop_process_group

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
HEALTH_PATH = "/_strangler/health"


# --- addons in mitmproxy's test context ----------------------------------------------------------------


@contextlib.contextmanager
def addon_context(*addons, **options) -> Iterator[taddons.context]:
    """taddons.context that also removes the log handler its master installs on the root logger: left
    behind, that handler forwards later log records to a closed event loop and raises."""
    with taddons.context(*addons) as tctx:
        try:
            for addon in addons:
                if options:
                    tctx.configure(addon, **options)
            yield tctx
        finally:
            logging.getLogger().removeHandler(tctx.master._legacy_log_events)


@pytest.fixture(autouse=True)
def _no_stale_mitmproxy_log_handlers():
    """Each taddons.context installs a root log handler bound to its event loop; drop them after a test."""
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, LegacyLogEvents)]:
        root.removeHandler(handler)


# --- the stand-in upstream ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """What the stand-in saw: one request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real service
    server: _EchoServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        standin = self.server.standin
        received = ReceivedRequest(self.command, self.path, dict(self.headers.items()), body)
        standin._record(received)
        if standin.delay:
            time.sleep(standin.delay)
        if standin.drop_connections:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        status = standin.fail_status or 200
        document = {
            "upstream": standin.name,
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", "replace"),
        }
        answer = standin.responder(received) if standin.responder and not standin.fail_status else None
        if answer is not None:
            status, document = answer
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Standin", standin.name)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], standin: StandinUpstream) -> None:
        self.standin = standin
        super().__init__(address, _EchoHandler)


@dataclass
class StandinUpstream:
    """A real echo service on 127.0.0.1:`port`. Knobs: `fail_status` (answer that status), `delay` (seconds
    before answering), `drop_connections` (close without answering), `responder` (a function of the
    ReceivedRequest returning (status, JSON document) to answer instead of the echo, or None to echo);
    `stop()` kills it, `start()` brings it back on the same port. `received` lists every request that
    reached it."""

    name: str = "standin"
    port: int = field(default_factory=free_port)
    fail_status: int | None = None
    delay: float = 0.0
    drop_connections: bool = False
    responder: Callable[[ReceivedRequest], tuple[int, object] | None] | None = None
    received: list[ReceivedRequest] = field(default_factory=list)
    _server: _EchoServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> StandinUpstream:
        if self._server is None:
            self._server = _EchoServer(("127.0.0.1", self.port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, name=f"standin-{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Die: stop listening and close the listening socket (connections in flight finish)."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            if self._thread:
                self._thread.join(timeout=5)

    def reset(self) -> None:
        """Back to answering 200 at once, and forget what was received."""
        self.fail_status, self.delay, self.drop_connections, self.responder = None, 0.0, False, None
        with self._lock:
            self.received.clear()

    def requests_to(self, path_prefix: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.received if r.path.startswith(path_prefix)]

    def _record(self, received: ReceivedRequest) -> None:
        with self._lock:
            self.received.append(received)


@pytest.fixture
def make_standin() -> Iterator[Callable[..., StandinUpstream]]:
    """Build more stand-ins (`make_standin(name="product")`); all are stopped after the test."""
    built: list[StandinUpstream] = []

    def make(name: str = "standin", port: int | None = None) -> StandinUpstream:
        standin = StandinUpstream(name=name, port=port or free_port()).start()
        built.append(standin)
        return standin

    yield make
    for standin in built:
        standin.stop()


@pytest.fixture
def standin_upstream(make_standin) -> StandinUpstream:
    """One running stand-in upstream service (see StandinUpstream)."""
    return make_standin("standin")


# --- the gateway as a real process ------------------------------------------------------------------------


def write_routes(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def write_flags_file(path: Path, *, enabled: Mapping[str, bool] | None = None) -> Path:
    """A flags file with the bootstrap flags (all off), optionally switching some on (100% rollout)."""
    document = json.loads(BOOTSTRAP_FILE.read_text(encoding="utf-8"))
    for feature in document["features"]:
        if enabled and feature["name"] in enabled:
            feature["enabled"] = enabled[feature["name"]]
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


@dataclass
class GatewayProcess:
    """A running gateway: `url` to send requests to, `log_path` for post-mortems, `stop()` to end it."""

    url: str
    port: int
    process: subprocess.Popen
    log_path: Path
    argv: list[str]

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        stop_process_group(self.process, grace)


class GatewayStartError(RuntimeError):
    """The gateway exited during start-up (e.g. it refused its configuration) or never listened."""

    def __init__(self, message: str, returncode: int | None, log: str) -> None:
        super().__init__(f"{message}\n--- gateway log ---\n{log}")
        self.returncode = returncode
        self.log = log


def gateway_argv(*, legacy_url: str, port: int, routes: Path | None, extra: list[str]) -> list[str]:
    from strangler_proxy.launch import mitmdump_argv

    return mitmdump_argv(legacy_url=legacy_url, listen_host="127.0.0.1", port=port, routes=routes) + extra


def start_gateway(
    *,
    log_path: Path,
    routes_yaml: Path | None = None,
    flags_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    legacy_url: str = "http://127.0.0.1:9",
    extra_args: list[str] | None = None,
    timeout: float = START_TIMEOUT,
) -> GatewayProcess:
    """Start mitmdump with the gateway addon on a free port; return once it accepts connections."""
    port = free_port()
    argv = gateway_argv(legacy_url=legacy_url, port=port, routes=routes_yaml, extra=list(extra_args or []))
    full_env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MONOLITH_URL": legacy_url,
        # the audit chain beside the gateway's log, not in the repository's var/
        "GATEWAY_AUDIT_LOG": str(log_path.with_suffix(".audit.jsonl")),
        **(env or {}),
    }
    if flags_file is not None:
        full_env["FLAGS_FILE"] = str(flags_file)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv, cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    gateway = GatewayProcess(f"http://127.0.0.1:{port}", port, process, log_path, argv)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise GatewayStartError("the gateway exited during start-up", process.returncode, gateway.log())
        try:  # the gateway answers its health path itself, whatever the upstreams do
            health = requests.get(f"{gateway.url}{HEALTH_PATH}", timeout=2)
            if health.status_code == 200 and health.json().get("status") == "ok":
                return gateway
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.05)
    gateway.stop()
    raise GatewayStartError(f"the gateway did not answer within {timeout:.0f} s", None, gateway.log())


@pytest.fixture
def gateway_process(tmp_path) -> Iterator[Callable[..., GatewayProcess]]:
    """Start gateways: `gateway_process(routes_yaml=..., flags_file=..., env={...}, legacy_url=...)`.
    Without a flags file, a copy of the bootstrap flags (all off) in tmp_path is used. Every gateway
    started is stopped after the test."""
    started: list[GatewayProcess] = []

    def start(
        routes_yaml: Path | None = None,
        flags_file: Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        legacy_url: str = "http://127.0.0.1:9",
        extra_args: list[str] | None = None,
    ) -> GatewayProcess:
        if flags_file is None and not (env and env.get("UNLEASH_URL")):
            flags_file = tmp_path / "gateway-flags.json"
            if not flags_file.exists():
                write_flags_file(flags_file)
        gateway = start_gateway(
            log_path=tmp_path / f"gateway-{len(started)}.log",
            routes_yaml=routes_yaml,
            flags_file=flags_file,
            env=env,
            legacy_url=legacy_url,
            extra_args=extra_args,
        )
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()


__all__ = [
    "GatewayProcess",
    "GatewayStartError",
    "ReceivedRequest",
    "StandinUpstream",
    "free_port",
    "start_gateway",
    "write_flags_file",
    "write_routes",
]
