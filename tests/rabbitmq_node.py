"""A RabbitMQ node of a test's own, for the drills that stop and start the broker.

The shared RabbitMQ on 5672 serves every pytest session at once; a test that stopped it (`rabbitmqctl
stop_app`) had to run alone, after everything else (the old `exclusive` session). `private_rabbitmq()` starts
a second node of the machine's RabbitMQ instead: its own node name, AMQP port, distribution port, data and
log folders under a temporary directory, the machine's configuration files bypassed (they pin the shared
listener), no plugins. A test then stops and starts that node as often as it likes while the other sessions
run on the shared one. The node is stopped and its folder removed on the way out.

RabbitMQ's scripts run the server as the `rabbitmq` user when started by root (as CI is), so the folder is
handed to that user; run by another user, they refuse, and so does this helper, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from legacy_monolith.demo.processes import free_port

START_SECONDS = 90.0  # a deadline, never an assertion on speed


@dataclass(frozen=True)
class RabbitNode:
    name: str  # the Erlang node name, e.g. drill3f2a1c9e@localhost
    port: int  # AMQP, on 127.0.0.1
    env: dict[str, str]  # what rabbitmq-server and rabbitmqctl need to find this node

    tls: bool = False

    @property
    def url(self) -> str:
        if self.tls:  # the server's certificate names localhost
            return f"amqps://guest:guest@localhost:{self.port}//"
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.name, *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def accepts(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True
        return False

    def stop_app(self) -> None:
        """The broker application stops (every connection drops; the node stays up)."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """The broker application starts again; returns once it accepts AMQP connections."""
        self.ctl("start_app")
        self.ctl("await_startup", timeout=START_SECONDS)
        _wait_for(self.accepts, "the node's AMQP port after start_app")


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what} after {START_SECONDS:.0f} s")
        time.sleep(0.2)


@dataclass(frozen=True)
class NodeTls:
    """PEM contents for a node that speaks only AMQPS: mutual TLS 1.3 (a client certificate from `ca`
    required, TLS 1.2 refused)."""

    ca: bytes
    cert: bytes
    key: bytes


@contextlib.contextmanager
def private_rabbitmq(prefix: str = "drill", *, tls: NodeTls | None = None) -> Iterator[RabbitNode]:
    if shutil.which("rabbitmq-server") is None:
        raise RuntimeError(
            "rabbitmq-server is not installed: a private RabbitMQ node needs the server's scripts"
        )
    if os.geteuid() != 0:
        raise RuntimeError(
            "a private RabbitMQ node is started as root (RabbitMQ's scripts then run it as rabbitmq)"
        )
    folder = Path(tempfile.mkdtemp(prefix="rabbitmq-node-"))
    port, dist_port = free_port(), free_port()
    (folder / "enabled_plugins").write_text("[].\n")
    config = [f"listeners.tcp.local = 127.0.0.1:{port}", "loopback_users = none"]
    if tls is not None:
        for name, content in (("ca.pem", tls.ca), ("cert.pem", tls.cert), ("key.pem", tls.key)):
            (folder / name).write_bytes(content)
        config = [
            "listeners.tcp = none",
            f"listeners.ssl.default = 127.0.0.1:{port}",
            f"ssl_options.cacertfile = {folder / 'ca.pem'}",
            f"ssl_options.certfile = {folder / 'cert.pem'}",
            f"ssl_options.keyfile = {folder / 'key.pem'}",
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = true",
            "ssl_options.versions.1 = tlsv1.3",
            "loopback_users = none",
        ]
    (folder / "rabbitmq.conf").write_text("\n".join(config) + "\n")
    for path in (folder, *folder.iterdir()):
        shutil.chown(path, user="rabbitmq", group="rabbitmq")
    name = f"{prefix}{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "HOME": str(folder),
        "RABBITMQ_NODENAME": name,
        "RABBITMQ_DIST_PORT": str(dist_port),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_PID_FILE": str(folder / "pid"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
    }
    node = RabbitNode(name=name, port=port, env=env, tls=tls is not None)
    subprocess.run(["rabbitmq-server", "-detached"], env=env, check=True, capture_output=True)
    try:
        try:
            _wait_for(node.accepts, f"the private RabbitMQ node {name} on port {port}")
        except RuntimeError as exc:
            logs = sorted((folder / "log").glob("*.log"))
            tail = logs[0].read_text(errors="replace")[-2000:] if logs else "(no log)"
            raise RuntimeError(f"{exc}\n{tail}") from None
        yield node
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            node.ctl("stop", timeout=60)
        shutil.rmtree(folder, ignore_errors=True)
