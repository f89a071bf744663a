"""Celery on the chassis: the one Celery app of a service process, configured from its Django settings.

Tasks are for work inside one service (timers, provider calls with retries, periodic sweeps); events between
services stay on the outbox and the consumers. The API is small:

- `service_task(...)`: decorate a function in an installed app's `tasks.py` (discovered when the worker
  starts). Defaults: acknowledged late and requeued when the worker dies (a worker killed with -9 mid-task
  leaves the message to be delivered again, so a task must be idempotent), the errors of `RETRYABLE` (or
  the task's own `autoretry_for`) retried with exponential backoff (`retry_backoff`, capped by
  `retry_backoff_max`), full jitter (`retry_jitter`) and at most `max_retries` retries; no result stored.
- `enqueue_on_commit(task, *ids, countdown=None)`: a task takes ids (str, int, UUID), never objects, and is
  sent only once the caller's transaction commits (never after a rollback, never before its data is visible).
- `enqueue_batch_on_commit(task, id)`: the ids given during one transaction go in one call, `task([ids])`,
  sent once on commit (at most `limit` ids a call): one broker round trip for a batch of rows.
- `settings.CELERY_BEAT_SCHEDULE`: periodic tasks, sent by the `beat` command.
- `python -m extracted.<svc> worker [...]` and `beat [...]` (chassis/management/commands/).

Broker: settings.BROKER_URL, the service's event broker (RabbitMQ in the services profile; unset = kombu's
filesystem transport under var/broker, the embedded profile, no server). Every task of a service goes to the
queue `<SERVICE_NAME>.tasks`, so services sharing a broker never run each other's tasks.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from celery import Celery, shared_task
from celery.signals import worker_ready, worker_shutting_down
from django.db import InterfaceError, OperationalError, transaction

from kernel.mtls import amqp_ssl


class TransientError(Exception):
    """Raise it from a task for a failure worth retrying (a dependency down, a timeout)."""


# Retried by default: our own transient errors, database connection loss, network errors and timeouts.
RETRYABLE: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
)

TASK_DEFAULTS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": RETRYABLE,
    "retry_backoff": 1,  # seconds: the first retry waits up to 1 s, then up to 2, 4, ... (full jitter)
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "ignore_result": True,
}

ID_TYPES = (str, int, uuid.UUID)


def task_queue(service_name: str) -> str:
    return f"{service_name}.tasks"


def celery_settings(settings: Any) -> dict[str, Any]:
    """Celery's configuration for a service, from its Django settings (plain data, tested as such)."""
    name = getattr(settings, "SERVICE_NAME", "strangler")
    broker_url = getattr(settings, "BROKER_URL", "") or "filesystem://"
    transport_options: dict[str, Any] = dict(getattr(settings, "BROKER_TRANSPORT_OPTIONS", {}) or {})
    amqp = broker_url.startswith(("amqp", "pyamqp"))
    if amqp:
        transport_options.setdefault("confirm_publish", True)
    var_dir = Path(getattr(settings, "VAR_DIR", "var"))
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        # amqps://: mutual TLS 1.3 with this process's internal certificate (kernel.mtls.amqp_ssl)
        "broker_use_ssl": amqp_ssl(broker_url) or False,
        "task_default_queue": task_queue(name),
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # The chassis' JSON logs stay in charge of the root logger.
        "worker_hijack_root_logger": False,
        # Remote control and task events need fanout exchanges: RabbitMQ only.
        "worker_enable_remote_control": amqp,
        "worker_send_task_events": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": dict(getattr(settings, "CELERY_BEAT_SCHEDULE", {}) or {}),
        "beat_schedule_filename": str(var_dir / f"celerybeat-{name}"),
        "task_always_eager": bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)),
        "task_eager_propagates": True,
    }


def _configure() -> Mapping[str, Any]:
    from django.conf import settings

    return celery_settings(settings)


READY_FILE_ENV = "CELERY_READY_FILE"


def _mark_ready(**_) -> None:
    """The worker consumes from now on: touch CELERY_READY_FILE when set (a readiness probe's file; what
    the demo and the tests wait for before sending work a deadline bounds)."""
    if path := os.environ.get(READY_FILE_ENV):
        Path(path).touch()


def _unmark_ready(**_) -> None:
    if path := os.environ.get(READY_FILE_ENV):
        Path(path).unlink(missing_ok=True)


worker_ready.connect(_mark_ready, weak=False)
worker_shutting_down.connect(_unmark_ready, weak=False)

app = Celery("strangler")
app.add_defaults(_configure)  # read lazily: the first use of app.conf, after Django's settings are loaded
app.autodiscover_tasks()  # every installed app's tasks.py (Celery's Django fixup lists them)
app.set_default()


def service_task(*args, **options):
    """`@service_task` or `@service_task(max_retries=3, autoretry_for=(...))`: a task with the chassis'
    defaults (see the module docstring); any Celery task option may be overridden."""
    return shared_task(*args, **{**TASK_DEFAULTS, **options})


def enqueue_on_commit(task, *ids: str | int | uuid.UUID, countdown: float | None = None, using="default"):
    """Send `task(*ids)` once the current transaction on `using` commits (at once outside a transaction)."""
    bad = [value for value in ids if isinstance(value, bool) or not isinstance(value, ID_TYPES)]
    if bad:
        raise TypeError(
            f"{task.name} takes ids (str, int, UUID), not {', '.join(type(v).__name__ for v in bad)}"
        )
    args = [str(value) if isinstance(value, uuid.UUID) else value for value in ids]
    transaction.on_commit(partial(task.apply_async, args=args, countdown=countdown), using=using)


class _PendingBatch:
    """The ids collected for one task during one transaction; sent by its on_commit callback."""

    def __init__(self, task, countdown: float | None):
        self.task, self.countdown, self.ids = task, countdown, []

    def send(self) -> None:
        self.task.apply_async(args=[self.ids], countdown=self.countdown)


def enqueue_batch_on_commit(
    task, value: str | int | uuid.UUID, *, limit: int = 100, countdown: float | None = None, using="default"
) -> None:
    """Add `value` to the call `task([ids...])` sent once the current transaction on `using` commits (at
    once outside a transaction). Ids given inside a savepoint that is rolled back may still be sent: the
    task must ignore ids it finds nothing for (as a claim by id does)."""
    if isinstance(value, bool) or not isinstance(value, ID_TYPES):
        raise TypeError(f"{task.name} takes ids (str, int, UUID), not {type(value).__name__}")
    connection = transaction.get_connection(using)
    batches = connection.__dict__.setdefault("_strangler_pending_batches", {})
    pending = batches.get(task.name)
    # Still pending only while its callback is registered: a commit or a rollback clears the list.
    registered = pending is not None and any(func == pending.send for _, func, _ in connection.run_on_commit)
    if not registered or len(pending.ids) >= limit:
        pending = batches[task.name] = _PendingBatch(task, countdown)
        pending.ids.append(str(value) if isinstance(value, uuid.UUID) else value)
        transaction.on_commit(pending.send, using=using)
        return
    pending.ids.append(str(value) if isinstance(value, uuid.UUID) else value)
