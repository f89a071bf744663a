"""The Prometheus endpoint of a multi-worker gateway, served once by the parent.

strangler_proxy/metrics.py (the Metrics addon) supports several processes through prometheus_client's
multiprocess mode: every worker writes its values to files under PROMETHEUS_MULTIPROC_DIR and one process
serves the aggregate. The runner makes that process the parent, so /metrics survives worker restarts: when a
metrics port is configured (GATEWAY_METRICS_PORT or --set strangler_metrics_port=N) the parent creates the
directory, serves the port, gives the workers strangler_metrics_port=0 and marks dead workers.

The same port answers the platform's probes: `/healthz` (the parent runs) and `/readyz` (every worker slot
has a worker serving; 503 while one is starting or being replaced), so a gateway's liveness and readiness do
not depend on an upstream answering through it.
"""

from __future__ import annotations

import os
import shutil
import socketserver
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .config import RunnerConfig

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # scrapes and probes every few seconds
        pass


def _setting(config: RunnerConfig, name: str) -> str | None:
    found = None
    for spec in config.settings:
        key, _, value = spec.partition("=")
        if key == name:
            found = value
    return found


@dataclass
class ParentMetrics:
    host: str
    port: int
    directory: str
    owns_directory: bool
    ready: Callable[[], bool] = field(default=lambda: False, repr=False)
    _server: Any = field(default=None, repr=False)
    _module: Any = field(default=None, repr=False)

    @classmethod
    def for_config(cls, config: RunnerConfig) -> ParentMetrics | None:
        """None unless the gateway addons run and a metrics port is configured."""
        if config.addon_set == "passthrough":
            return None
        raw_port = _setting(config, "strangler_metrics_port") or os.environ.get("GATEWAY_METRICS_PORT") or "0"
        try:
            port = int(raw_port)
        except ValueError:
            return None  # the workers' Metrics addon reports the bad value at start
        if port <= 0:
            return None
        import importlib.util

        if importlib.util.find_spec("strangler_proxy.metrics") is None:
            return None
        host = _setting(config, "strangler_metrics_host") or "127.0.0.1"
        existing = os.environ.get(MULTIPROC_ENV)
        directory = existing or tempfile.mkdtemp(prefix="strangler-metrics-")
        return cls(host=host, port=port, directory=directory, owns_directory=not existing)

    def start(self) -> None:
        """Serve the aggregate; raises OSError when the port is taken."""
        # before prometheus_client is imported, here and in workers
        os.environ[MULTIPROC_ENV] = self.directory
        from strangler_proxy import metrics

        self._module = metrics
        from prometheus_client import make_wsgi_app

        exposition = make_wsgi_app(metrics.exposition_registry())

        def app(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path in ("/healthz", "/readyz"):
                ok = path == "/healthz" or self.ready()
                start_response(
                    "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")]
                )
                return [b'{"status": "ok"}' if ok else b'{"status": "starting"}']
            return exposition(environ, start_response)

        self._server = make_server(self.host, self.port, app, _ThreadingServer, _QuietHandler)
        threading.Thread(target=self._server.serve_forever, name="gateway-metrics", daemon=True).start()

    def worker_config(self, config: RunnerConfig) -> RunnerConfig:
        """The workers write to the directory and leave the port to the parent (a port the user set with
        --set is the parent's, so it is not passed on: mitmproxy refuses an option given twice)."""
        kept = tuple(s for s in config.settings if not s.startswith("strangler_metrics_port="))
        return replace(config, settings=(*kept, "strangler_metrics_port=0"))

    def worker_exited(self, pid: int) -> None:
        if self._module is not None:
            self._module.mark_worker_dead(pid)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)
