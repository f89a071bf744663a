"""The fast gateway runner: `python -m strangler_proxy --listen 127.0.0.1:8080 --workers N --upstream URL`.

A supervisor process binds the port and runs N worker processes; each worker runs mitmproxy's proxy core
(a lean master: only the mitmproxy addons a reverse-proxy gateway needs, plus the gateway's addons from
strangler_proxy/addon.py) on its own SO_REUSEPORT socket of the shared port. Crashed workers are restarted;
SIGTERM/SIGINT stop every worker gracefully. Targets mitmproxy 12.x (checked at start).

Modules: config (command line, GATEWAY_* environment), master (lean master, hook dispatch, listener hook,
version check), worker (one worker process), supervisor (the parent), parent_metrics (one Prometheus
endpoint for all workers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace

from contracts import cli
from contracts.addresses import urls_from_ports
from contracts.cli import EnvironmentUnusable, port_in_use

from .config import RunnerConfig, parse_config
from .master import UnsupportedMitmproxy, check_mitmproxy
from .parent_metrics import ParentMetrics
from .supervisor import Supervisor, bind_listeners
from .tls import mitmproxy_settings
from .worker import WORKER_ENV, worker_main

__all__ = ["RunnerConfig", "check_mitmproxy", "main", "parse_config", "run"]


def prepare_certificate_store(config: RunnerConfig) -> None:
    """Create mitmproxy's CA files once, here, so N workers starting together do not race to write them."""
    from mitmproxy import certs, options

    opts = options.Options()
    opts.set(*(s for s in config.settings if s.split("=", 1)[0] in ("confdir", "key_size")))
    confdir = os.path.expanduser(opts.confdir)
    certs.CertStore.from_store(path=confdir, basename=options.CONF_BASENAME, key_size=opts.key_size)


def run(config: RunnerConfig) -> int:
    """Serve until a stop signal; 0 after a clean stop, 1 when workers keep crashing, 2 when refused."""
    check_mitmproxy()
    prepare_certificate_store(config)
    tls_options, tls_files = mitmproxy_settings(config.tls_files)
    config = replace(config, tls_options=json.dumps(tls_options) if tls_options else "")
    try:
        return _serve(config)
    finally:
        for path in tls_files:
            os.unlink(path)


def _serve(config: RunnerConfig) -> int:
    listeners = bind_listeners(config.host, config.port, config.workers, config.backlog)
    metrics = ParentMetrics.for_config(config)
    try:
        if metrics is not None:
            try:
                metrics.start()
            except OSError as exc:
                raise port_in_use(metrics.host, metrics.port, "strangler_metrics_port", exc) from exc
            config = metrics.worker_config(config)
        supervisor = Supervisor(config, listeners, on_worker_exit=metrics and metrics.worker_exited)
        if metrics is not None:
            metrics.ready = lambda: all(slot.ready for slot in supervisor.slots)
        return supervisor.run()
    finally:
        if metrics is not None:
            metrics.stop()
        for sock in listeners:
            sock.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 after a clean stop, 1 when workers keep crashing, 2 when refused (bad usage, a port in use,
    an unsupported mitmproxy), with one line `strangler_proxy: <code>: <message>` (contracts/cli)."""
    raw_spec = os.environ.pop(WORKER_ENV, None)
    if raw_spec is not None:
        return worker_main(raw_spec)
    os.environ.update(urls_from_ports())  # the workers' routes.yaml ${X_URL}s follow X_PORT too

    def start() -> int:
        try:
            return run(parse_config(argv))
        except UnsupportedMitmproxy as exc:
            raise EnvironmentUnusable("unsupported_mitmproxy", str(exc)) from exc

    return cli.run_main("strangler_proxy", start)
