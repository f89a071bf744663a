"""The Notification service as a user runs it, for bench-notifications: a throwaway PostgreSQL database and a
RabbitMQ virtual host of its own, `python -m extracted.notification_service migrate`, then its event
consumer(s) (`consume notification_service.events`) and its Celery worker (`worker`), with email going to
the SMTP sink (bench/smtp_sink.py, aiosmtpd in its own process) whose receipts are collected here.

Nothing of the service is imported: it is driven through its command line, its events and its database.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
from kombu import Connection

from legacy_monolith.demo.order_service import Background
from legacy_monolith.demo.processes import free_port, python_argv, service_manage, stop_process_group
from legacy_monolith.demo.services import rabbitmq_vhost, throwaway_database

SERVICE = "notification_service"
EVENTS_QUEUE = "notification_service.events"
TASKS_QUEUE = "notification_service.tasks"


class StackError(RuntimeError):
    """A process of the stack did not start or did not become ready."""


@dataclass
class Receipts:
    """What the SMTP sink accepted: recipient -> receipt times (wall clock, time.time())."""

    times: dict[str, list[float]] = field(default_factory=dict)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self):
        self.changed = threading.Condition(self.lock)

    def add(self, at: float, rcpt: str) -> None:
        with self.changed:
            self.times.setdefault(rcpt, []).append(at)
            self.count += 1
            self.changed.notify_all()

    def first(self, rcpt: str) -> float | None:
        with self.lock:
            got = self.times.get(rcpt)
            return got[0] if got else None

    def received(self, recipients: list[str]) -> int:
        with self.lock:
            return sum(1 for r in recipients if r in self.times)

    def wait_for(self, recipients: list[str], timeout: float, on_progress=None) -> int:
        """Wait until every recipient got a message (or `timeout`); how many did."""
        deadline = time.monotonic() + timeout
        got = 0
        while True:
            got = self.received(recipients)
            if on_progress:
                on_progress(got)
            left = deadline - time.monotonic()
            if got >= len(recipients) or left <= 0:
                return got
            with self.changed:
                self.changed.wait(min(0.2, left))


class SmtpSink:
    """bench/smtp_sink.py as a child process; a thread turns its stdout lines into Receipts."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.receipts = Receipts()
        self.log_path = log_path
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15.0) -> SmtpSink:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                python_argv("-m", "bench.smtp_sink", "--port", str(self.port)),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
                start_new_session=True,
            )
        first = self._proc.stdout.readline()  # "ready host:port" (or EOF when it failed)
        if not first.startswith("ready"):
            self.stop()
            raise StackError(f"the SMTP sink did not start (log: {self.log_path})")
        self._thread = threading.Thread(target=self._read, name="smtp-receipts", daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        for line in self._proc.stdout:
            at, _, rcpt = line.strip().partition(" ")
            if rcpt:
                self.receipts.add(float(at), rcpt)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process_group(proc, grace=5)


@dataclass
class NotificationStack:
    broker_url: str
    database_url: str
    env: dict[str, str]
    sink: SmtpSink
    processes: list[Background]

    def scalar(self, sql: str):
        with contextlib.closing(psycopg2.connect(self.database_url)) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()[0]

    def check_alive(self) -> None:
        for proc in self.processes:
            if proc.process is None or proc.process.poll() is not None:
                raise StackError(f"{proc.name} exited (log: {proc.log_path})")


def _consumers_on(broker_url: str, queue: str) -> int:
    with Connection(broker_url, connect_timeout=5) as conn:
        try:
            _, _, consumers = conn.channel().queue_declare(queue=queue, passive=True)
        except conn.channel_errors:
            return 0  # not declared yet
        return consumers


def wait_ready(stack: NotificationStack, consumers: int, timeout: float = 90.0) -> None:
    """Every consumer process and the worker listen on their queues (so nothing published is dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        if (
            _consumers_on(stack.broker_url, EVENTS_QUEUE) >= consumers
            and _consumers_on(stack.broker_url, TASKS_QUEUE) >= 1
        ):
            return
        time.sleep(0.2)
    raise StackError(f"the consumers and the worker were not listening after {timeout:.0f} s")


@contextlib.contextmanager
def running_notification_stack(
    *,
    var_dir: Path,
    consumers: int = 1,
    worker_concurrency: int = 2,
    pool: str = "prefork",
    env: dict[str, str] | None = None,
) -> Iterator[NotificationStack]:
    """The whole stack, torn down (processes stopped, vhost and database dropped) whatever happens."""
    logs = var_dir / "logs"
    with (
        throwaway_database("notification_bench") as database_url,
        rabbitmq_vhost("notification_bench") as broker_url,
    ):
        sink = SmtpSink(logs / "smtp-sink.log").start()
        full_env = {
            "NOTIFICATION_DATABASE_URL": database_url,
            "BROKER_URL": broker_url,
            "NOTIFICATION_SMTP_HOST": "127.0.0.1",
            "NOTIFICATION_SMTP_PORT": str(sink.port),
            # Production settings: DEBUG off (no query log), so the development secrets are replaced.
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
            "INTERNAL_API_TOKEN": "bench-only-internal-token-" + "y" * 20,
            "NOTIFICATION_PROVIDER_API_KEY": "bench-only-provider-key",
            "NOTIFICATION_RECEIPT_SECRET": "bench-only-receipt-secret",
            "STRANGLER_VAR_DIR": str(var_dir),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            **(env or {}),
        }
        module = f"extracted.{SERVICE}"
        processes = [
            Background(
                f"consumer-{n}",
                python_argv("-m", module, "consume", EVENTS_QUEUE),
                full_env,
                logs / f"consumer-{n}.log",
            )
            for n in range(1, consumers + 1)
        ]
        processes.append(
            Background(
                "worker",
                python_argv("-m", module, "worker", "--pool", pool, "--concurrency", str(worker_concurrency)),
                full_env,
                logs / "worker.log",
            )
        )
        stack = NotificationStack(broker_url, database_url, full_env, sink, processes)
        try:
            service_manage(SERVICE, "migrate", "--noinput", env=full_env)
            for proc in processes:
                proc.start()
            wait_ready(stack, consumers)
            yield stack
        finally:
            for proc in processes:
                proc.stop()
            sink.stop()
