"""gunicorn hooks for services: drop a dead worker's Prometheus multiprocess files; with INTERNAL_TLS_CERT,
serve mutual TLS 1.3 only (kernel.mtls: the internal CA alone, a client certificate required)."""

import os


def child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def ssl_context(conf, default_ssl_context_factory):
    from kernel.mtls import MutualTls

    mutual = MutualTls.from_env(os.environ)
    return mutual.server_context() if mutual else default_ssl_context_factory()
