"""`serve`: run this service under gunicorn (gthread workers) on its default port or --bind."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from contracts import cli


def tls_argv(mutual) -> list[str]:
    """With INTERNAL_TLS (kernel.mtls.MutualTls): gunicorn serves mutual TLS 1.3 only (the context comes from
    chassis.gunicorn_conf) and its worker hands the peer's identity to the application."""
    if mutual is None:
        return ["--worker-class", "gthread"]
    return [
        "--certfile", mutual.cert, "--keyfile", mutual.key, "--ca-certs", mutual.ca, "--cert-reqs", "2",
        "--worker-class", "chassis.mtls_worker.MutualTlsWorker",
    ]  # fmt: skip


def gunicorn_argv(*, bind: str, workers: int, threads: int, extra: list[str], mutual=None) -> list[str]:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    return [
        gunicorn,
        "chassis.wsgi:application",
        "--config",
        "python:chassis.gunicorn_conf",
        "--bind",
        bind,
        "--workers",
        str(workers),
        *tls_argv(mutual),
        "--threads",
        str(threads),
        "--graceful-timeout",
        "5",
        *extra,
    ]


def default_bind() -> str:
    """127.0.0.1 and the service's default port (settings.SERVICE_PORT)."""
    return f"127.0.0.1:{settings.SERVICE_PORT}"


def prepare_multiprocess_dir(bind: str) -> None:
    """Workers share metrics through PROMETHEUS_MULTIPROC_DIR (default var/prometheus/<service>-<port>);
    files left by an earlier run are removed so counters start from zero."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        Path(settings.VAR_DIR) / "prometheus" / f"{settings.SERVICE_NAME}-{bind.rsplit(':', 1)[-1]}"
    )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def check_bind(bind: str) -> None:
    """A host:port in use (or not host:port at all) fails here, in one line, not in gunicorn's retries."""
    if bind.startswith(("unix:", "fd://")):
        return
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise cli.UsageError(f"--bind {bind!r}: expected HOST:PORT", code="invalid_option")
    cli.check_port_free(host.strip("[]") or "0.0.0.0", int(port), "--bind")  # noqa: S104


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Serve this service with gunicorn (replaces this process)."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"port": ["--bind", "127.0.0.1:{port}"], "bad_argument": ["--workers", "0"]}

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=default_bind(),
            help="host:port to listen on (default %(default)s: this service's default port)",
        )
        parser.add_argument("--workers", type=cli.positive_int, default=2)
        parser.add_argument("--threads", type=cli.positive_int, default=4)
        parser.add_argument("gunicorn_args", nargs="*", help="passed to gunicorn after --")

    def handle(self, *args, bind: str, workers=2, threads=4, gunicorn_args=(), **options):
        check_bind(bind)
        extra, mutual = list(gunicorn_args), settings.INTERNAL_TLS
        argv = gunicorn_argv(bind=bind, workers=workers, threads=threads, extra=extra, mutual=mutual)
        prepare_multiprocess_dir(bind)
        sys.stdout.flush()
        os.execv(argv[0], argv)  # noqa: S606 (argv is ours; DJANGO_SETTINGS_MODULE is inherited)
