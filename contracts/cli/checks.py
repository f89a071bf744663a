"""Pre-checks of what a command needs from its environment, each failing as one line (exit 2):
a free port for `--metrics-port`, a reachable broker (bounded by a timeout, so `--once` returns).

The database needs no pre-check: its errors are recognised wherever they happen (errors.failure_for).
"""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit, urlunsplit

from .errors import EnvironmentUnusable

AMQP_SCHEMES = ("amqp", "amqps", "pyamqp")


def redact_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def port_in_use(host: str, port: int, option: str, exc: OSError | None = None) -> EnvironmentUnusable:
    """The error for a listener that could not bind (`option` names the flag or setting that chose it)."""
    why = f" ({exc.strerror})" if exc is not None and exc.strerror else ""
    return EnvironmentUnusable(
        "port_in_use",
        f"{option} {port}: cannot listen on {host}:{port}{why}; pick another port or stop what listens there",
        extra={"host": host, "port": port},
    )


def check_port_free(host: str, port: int, option: str) -> None:
    """Raise port_in_use unless `host:port` can be bound now (port 0 always can)."""
    if not port:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                raise port_in_use(host, port, option, exc) from exc
            raise


def check_broker(url: str, *, timeout: float = 5.0, setting: str = "BROKER_URL") -> None:
    """Raise broker_unavailable unless an AMQP broker at `url` accepts a connection within `timeout`
    seconds. Other transports (the embedded profile's filesystem queue) need no server: nothing to check."""
    if urlsplit(url).scheme not in AMQP_SCHEMES:
        return
    from kombu import Connection  # kombu is every broker user's dependency; imported only when needed

    from kernel.mtls import amqp_ssl

    connection = Connection(
        url, connect_timeout=timeout, transport_options={"max_retries": 0}, ssl=amqp_ssl(url)
    )
    try:
        connection.connect()
    except Exception as exc:
        raise EnvironmentUnusable(
            "broker_unavailable",
            f"the broker at {redact_url(url)} is unreachable ({exc or type(exc).__name__}); check {setting} "
            "and that RabbitMQ is running",
            extra={"url": redact_url(url)},
        ) from exc
    finally:
        connection.release()
