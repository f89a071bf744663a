"""A REAL Payment service for cross-process tests, drills and benchmarks: its own migrated PostgreSQL
database, `serve` (gunicorn), a Celery `worker`, and optionally `beat` (the reconciler) and `relay_outbox`,
all as child processes of their own process groups, pointed at a sandbox.

    with running_payment_service(var_dir=tmp, sandbox_url=sandbox.base_url) as payments:
        requests.post(f"{payments.url}/internal/v1/payments", ...)

The broker is `broker_url` (a RabbitMQ virtual host of the caller's) or, without it, kombu's filesystem
transport under `var_dir` (the embedded profile: the server and the worker share the folder).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chassis.settings import DEV_INTERNAL_API_TOKEN

from .processes import (
    ManagedProcess,
    free_port,
    python_argv,
    service_manage,
    service_process,
    stop_process_group,
    wait_for_ready_files,
)
from .services import database_ensure, throwaway_database


@dataclass
class PaymentService:
    url: str
    database_url: str
    env: dict[str, str]
    process: ManagedProcess
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def token(self) -> str:
        return self.env["INTERNAL_API_TOKEN"]

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """`python -m extracted.payment_service <args>` with this service's environment."""
        return service_manage("payment_service", *args, env=self.env)


def _child(argv: list[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    import os

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(  # noqa: S603 (argv is ours)
            argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


@contextlib.contextmanager
def running_payment_service(
    *,
    var_dir: Path,
    sandbox_url: str,
    broker_url: str | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    threads: int = 4,
    worker_concurrency: int = 8,
    worker_processes: int = 1,
    beat: bool = False,
    relay: bool = False,
    database_url: str | None = None,
    database_prefix: str = "payment_test",
) -> Iterator[PaymentService]:
    """The Payment service with its worker (`worker_processes` of `worker_concurrency` threads; and beat,
    relay when asked) on a throwaway database (or `database_url`, created when missing and kept)."""
    if database_url is not None:
        database_ensure(database_url)
    databases = (
        contextlib.nullcontext(database_url)
        if database_url is not None
        else throwaway_database(database_prefix)
    )
    with databases as db_url:
        port = free_port()
        full_env = {
            "PAYMENT_DATABASE_URL": db_url,
            "PAYMENT_CARDINAL_URL": f"{sandbox_url}/cardinal",
            "PAYMENT_NORTHPAY_URL": f"{sandbox_url}/northpay",
            "INTERNAL_API_TOKEN": DEV_INTERNAL_API_TOKEN,
            "STRANGLER_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus"),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            **({"BROKER_URL": broker_url} if broker_url else {}),
            **(env or {}),
        }
        service_manage("payment_service", "migrate", "--noinput", env=full_env)
        process = service_process(
            "payment_service",
            port=port,
            env=full_env,
            workers=workers,
            threads=threads,
            log_path=var_dir / "payment.log",
        )
        service = PaymentService(f"http://127.0.0.1:{port}", db_url, full_env, process)
        worker = ["worker", "--pool", "threads", "--concurrency", str(worker_concurrency)]
        # More than one worker process on this host: each its own Celery node name (one pidbox queue each).
        commands = [
            [*worker, "--", "-n", f"payment_service-{n}@%h"] if worker_processes > 1 else worker
            for n in range(1, worker_processes + 1)
        ]
        if beat:
            commands.append(["beat"])
        if relay:
            commands.append(["relay_outbox"])
        try:
            # The server first: `serve` clears stale files of PROMETHEUS_MULTIPROC_DIR as it starts, which
            # would pull the metric files from under a worker or relay already running.
            process.start(timeout=60)
            ready: dict[Path, subprocess.Popen] = {}
            for n, command in enumerate(commands):
                argv = python_argv("-m", "extracted.payment_service", *command)
                child_env = dict(full_env)
                if command[0] == "worker":  # work is sent with deadlines: wait until the workers consume
                    ready_file = var_dir / f"payment-worker-{n}.ready"
                    ready_file.unlink(missing_ok=True)
                    child_env["CELERY_READY_FILE"] = str(ready_file)
                child = _child(argv, child_env, var_dir / f"payment-{command[0]}.log")
                service.children.append(child)
                if command[0] == "worker":
                    ready[ready_file] = child
            wait_for_ready_files(ready, log_hint=f" (see {var_dir / 'payment-worker.log'})")
            yield service
        finally:
            process.stop()
            for child in service.children:
                stop_process_group(child)
