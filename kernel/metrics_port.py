"""A worker's `--metrics-port`: this process's Prometheus /metrics served in a thread while a block runs
(the shadow worker, the rollout controller). Check the port first (contracts.cli.check_port_free) so a port
in use is a one-line exit 2 before any work starts. prometheus_client is imported only for a port."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(port: int | None, host: str = "127.0.0.1") -> Iterator[None]:
    if not port:
        yield
        return
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
