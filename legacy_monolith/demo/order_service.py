"""The Order service as real processes (for the cross-process tests, the drills and the benchmark): its
database migrated, then every process it needs: `serve` (gunicorn), the two saga consumers, the outbox relay,
the Celery worker (retry timers) and beat (the saga sweep). Each is started with `python -m
extracted.order_service ...`, so this module imports nothing of the service.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from chassis.settings import DEV_INTERNAL_API_TOKEN

from .processes import (
    ManagedProcess,
    free_port,
    manage,
    python_argv,
    service_manage,
    service_process,
    stop_process_group,
)
from .services import throwaway_database

SERVICE = "order_service"
CONSUMERS = ("order_service.saga_participants", "order_service.saga_orchestrator")


@dataclass
class Background:
    """A long-running child without an HTTP readiness URL (consumer, relay, worker, beat)."""

    name: str
    argv: list[str]
    env: Mapping[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> Background:
        import os

        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (argv is ours)
                self.argv,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process_group(self.process)
            self.process = None

    def kill(self) -> None:
        """kill -9 the whole process group (a crash), then reap it."""
        import os
        import signal

        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None


@dataclass
class OrderService:
    url: str
    database_url: str
    env: dict[str, str]
    web: ManagedProcess
    workers: dict[str, Background] = field(default_factory=dict)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self.web.stop()

    def import_rows(self, path: str, body: dict) -> dict:
        response = requests.post(
            f"{self.url}/internal/v1/import/{path}",
            json=body,
            headers={"Authorization": f"Bearer {DEV_INTERNAL_API_TOKEN}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()


def background_processes(
    env: Mapping[str, str],
    var_dir: Path,
    *,
    relay_interval: float = 0.02,
    participants: int = 1,
    orchestrators: int = 1,
) -> dict:
    """`participants` / `orchestrators`: copies of each saga consumer (they share its queue; a participant
    spends most of a command waiting for the participant's HTTP answer, so copies raise the saga's
    throughput). The first copy keeps the consumer's name as its key; the others are `<name>-2`, ..."""
    module = f"extracted.{SERVICE}"
    copies = dict(zip(CONSUMERS, (participants, orchestrators), strict=True))
    argvs = {
        **{
            (name if n == 1 else f"{name}-{n}"): python_argv("-m", module, "consume", name)
            for name in CONSUMERS
            for n in range(1, max(1, copies[name]) + 1)
        },
        "relay": python_argv("-m", module, "relay_outbox", "--interval", str(relay_interval)),
        "worker": python_argv("-m", module, "worker", "--pool", "threads", "--concurrency", "2"),
        "beat": python_argv("-m", module, "beat", "--schedule", str(var_dir / "celerybeat-order")),
    }
    return {
        name: Background(name, argv, env, var_dir / "logs" / f"order-{name}.log")
        for name, argv in argvs.items()
    }


def monolith_shipping_rules(monolith_env: Mapping[str, str]) -> list[dict]:
    """The monolith's shipping rate table (manage.py dumpdata), as the order service's import takes it."""
    dumped = json.loads(manage("dumpdata", "orders.ShippingRule", env=monolith_env).stdout)
    return [{"id": row["pk"], **row["fields"]} for row in dumped]


@contextlib.contextmanager
def running_order_service(
    *,
    var_dir: Path,
    broker_url: str,
    monolith_url: str,
    catalog_url: str | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    threads: int = 4,
    database_url: str | None = None,
    participants: int = 1,
    orchestrators: int = 1,
) -> Iterator[OrderService]:
    """The Order service on its own throwaway database (or `database_url`), with all its processes.

    `catalog_url`: where it reads products (`PRODUCT_SERVICE_URL`); the v1 catalog contract is the same on the
    monolith and the Product service, so tests that do not exercise the Product service point it at the
    monolith."""
    databases = contextlib.nullcontext(database_url) if database_url else throwaway_database("order_test")
    with databases as database_url:
        port = free_port()
        full_env = {
            "ORDER_DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "MONOLITH_URL": monolith_url,
            "PRODUCT_SERVICE_URL": catalog_url or monolith_url,
            "INTERNAL_API_TOKEN": DEV_INTERNAL_API_TOKEN,
            "STRANGLER_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus"),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            **(env or {}),
        }
        (var_dir / "prometheus").mkdir(parents=True, exist_ok=True)  # shared by every process of the service
        service_manage(SERVICE, "migrate", "--noinput", env=full_env)
        web = service_process(
            SERVICE,
            port=port,
            env=full_env,
            workers=workers,
            threads=threads,
            log_path=var_dir / "logs" / "order.log",
        )
        service = OrderService(f"http://127.0.0.1:{port}", database_url, full_env, web)
        service.workers = background_processes(
            full_env, var_dir, participants=participants, orchestrators=orchestrators
        )
        try:
            web.start(timeout=60)
            for worker in service.workers.values():
                worker.start()
            yield service
        finally:
            service.stop()
