"""Celery on the chassis with real workers: a RabbitMQ virtual host of the test's own (services profile) and
kombu's filesystem transport (embedded profile, no server). The worker and beat are the real commands
(`python -m tests.chassis.chassis_service worker|beat`) on this session's test database; every attempt and
every success of a task leaves an outbox row to count."""

from __future__ import annotations

import os
import signal
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.db import connection, transaction

from chassis.celery_app import (
    TASK_DEFAULTS,
    celery_settings,
    enqueue_batch_on_commit,
    enqueue_on_commit,
    task_queue,
)
from chassis.outbox.models import OutboxEvent
from legacy_monolith.demo.processes import python_argv
from tests.background import background, rabbitmq_vhost, wait_until
from tests.chassis.chassis_service import tasks

pytestmark = pytest.mark.django_db(transaction=True)
SERVICE = "tests.chassis.chassis_service"


def worker_env(tmp_path, broker_url: str | None) -> dict[str, str]:
    db = connection.settings_dict
    env = {
        "CHASSIS_DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "STRANGLER_VAR_DIR": str(tmp_path / "var"),
        "LOG_LEVEL": "INFO",
    }
    if broker_url:
        env["BROKER_URL"] = broker_url
    return env


def rows(type_: str) -> list[dict]:
    return [row.data for row in OutboxEvent.objects.filter(type=type_).order_by("id")]


@pytest.fixture
def amqp_broker():
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def use_broker(settings, tmp_path):
    """Point this test process's Celery app at a broker (the worker child gets the same)."""
    from chassis.celery_app import app

    def point(url: str | None):
        settings.BROKER_URL = url or "filesystem://"
        settings.VAR_DIR = tmp_path / "var"
        if url:
            settings.BROKER_TRANSPORT_OPTIONS = {"confirm_publish": True}
        else:
            from chassis.settings import filesystem_broker_options

            settings.BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(tmp_path / "var" / "broker")
        app.conf.update(celery_settings(settings))
        reset_connections(app)
        return SimpleNamespace(url=url, env=worker_env(tmp_path, url))

    yield point
    app.conf.update(celery_settings(settings))
    reset_connections(app)


def reset_connections(app) -> None:
    """Drop the app's pooled broker connections (the broker URL changed)."""
    from kombu import pools

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None


def run_worker(tmp_path, env, *extra: str):
    argv = python_argv("-m", SERVICE, "worker", "--pool", "solo", *extra)
    return background(argv, env, tmp_path / "worker.log")


def test_celery_settings_follow_the_service_settings(tmp_path):
    conf = celery_settings(
        SimpleNamespace(
            SERVICE_NAME="order_service",
            BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
            BROKER_TRANSPORT_OPTIONS={},
            VAR_DIR=tmp_path,
            CELERY_BEAT_SCHEDULE={"sweep": {"task": "x", "schedule": 5}},
        )
    )
    assert conf["task_default_queue"] == task_queue("order_service") == "order_service.tasks"
    assert conf["broker_transport_options"] == {"confirm_publish": True}
    assert (conf["task_acks_late"], conf["task_reject_on_worker_lost"]) == (True, True)
    assert conf["beat_schedule"] == {"sweep": {"task": "x", "schedule": 5}}
    assert conf["beat_schedule_filename"] == str(tmp_path / "celerybeat-order_service")
    embedded = celery_settings(SimpleNamespace(SERVICE_NAME="x", BROKER_URL="", VAR_DIR=tmp_path))
    assert (embedded["broker_url"], embedded["worker_enable_remote_control"]) == ("filesystem://", False)


def test_service_tasks_retry_with_backoff_full_jitter_and_a_maximum():
    task = tasks.widget_touch
    assert (task.acks_late, task.reject_on_worker_lost, task.retry_jitter) == (True, True, True)
    assert (task.max_retries, task.retry_backoff) == (3, 0.2)  # overridden; the rest are the defaults
    assert task.autoretry_for == TASK_DEFAULTS["autoretry_for"]
    assert tasks.widget_heartbeat.max_retries == TASK_DEFAULTS["max_retries"]


def test_a_task_takes_ids_not_objects():
    with pytest.raises(TypeError, match="takes ids"):
        enqueue_on_commit(tasks.widget_touch, {"id": 1})
    with pytest.raises(TypeError, match="takes ids"):
        enqueue_on_commit(tasks.widget_touch, True)


def test_a_task_is_sent_on_commit_and_never_after_a_rollback(tmp_path, amqp_broker, use_broker):
    broker = use_broker(amqp_broker)
    with transaction.atomic():
        enqueue_on_commit(tasks.widget_touch, 1)
        transaction.set_rollback(True)
    with transaction.atomic():
        enqueue_on_commit(tasks.widget_touch, 2)
        assert rows("widget.attempted") == []  # nothing sent before the commit
    with run_worker(tmp_path, broker.env):
        wait_until(lambda: rows("widget.touched"), "the committed task")
        with transaction.atomic():
            enqueue_on_commit(tasks.widget_touch, 3)
        wait_until(lambda: len(rows("widget.touched")) == 2, "the task sent after it")
    assert [row["id"] for row in rows("widget.attempted")] == [2, 3]  # task 1 was never sent


class RecordingTaskFake:
    """Stands for a Celery task at the broker boundary: records each call instead of sending it."""

    name = "tests.recording"

    def __init__(self):
        self.calls: list[list] = []

    def apply_async(self, args, countdown=None):
        self.calls.append(list(args[0]))


def test_ids_given_in_one_transaction_go_in_one_call_on_commit_never_after_a_rollback_fake_task():
    task = RecordingTaskFake()
    with transaction.atomic():
        enqueue_batch_on_commit(task, 1)
        transaction.set_rollback(True)
    with transaction.atomic():
        for value in (2, 3, 4, 5, 6):
            enqueue_batch_on_commit(task, value, limit=3)
        assert task.calls == []  # nothing before the commit
    enqueue_batch_on_commit(task, 7)  # outside a transaction: at once
    with transaction.atomic():
        enqueue_batch_on_commit(task, 8)
    assert task.calls == [[2, 3, 4], [5, 6], [7], [8]]
    with pytest.raises(TypeError, match="takes ids"):
        enqueue_batch_on_commit(task, {"id": 1})


def test_a_failing_task_is_retried_then_succeeds_and_stops_at_its_maximum(tmp_path, amqp_broker, use_broker):
    broker = use_broker(amqp_broker)
    with transaction.atomic():
        enqueue_on_commit(tasks.widget_touch, 10, 2)  # two failures, then success
        enqueue_on_commit(tasks.widget_touch, 11, 99)  # fails every time: max_retries=3, 4 attempts
    with run_worker(tmp_path, broker.env):
        wait_until(lambda: rows("widget.touched"), "the task that recovers")
        wait_until(
            lambda: sum(1 for row in rows("widget.attempted") if row["id"] == 11) == 4, "the last retry"
        )
    attempts = {n: [r["attempt"] for r in rows("widget.attempted") if r["id"] == n] for n in (10, 11)}
    assert attempts == {10: [1, 2, 3], 11: [1, 2, 3, 4]}
    assert rows("widget.touched") == [{"id": 10, "attempts": 3}]


def test_a_worker_killed_mid_task_leaves_the_task_to_the_next_worker(tmp_path, amqp_broker, use_broker):
    broker = use_broker(amqp_broker)
    with transaction.atomic():
        enqueue_on_commit(tasks.widget_touch, 20, 1)  # its retry waits up to 0.2 s in the worker
        enqueue_on_commit(tasks.widget_touch, 21, 0)
    with run_worker(tmp_path, broker.env) as first:
        wait_until(lambda: rows("widget.attempted"), "the first attempt")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    with run_worker(tmp_path, broker.env):
        wait_until(lambda: {r["id"] for r in rows("widget.touched")} == {20, 21}, "both tasks done")


def test_the_embedded_profile_runs_tasks_and_beat_with_no_broker_server(tmp_path, use_broker):
    broker = use_broker(None)
    with transaction.atomic():
        enqueue_on_commit(tasks.widget_touch, 30)
    beat = python_argv("-m", SERVICE, "beat")
    with run_worker(tmp_path, broker.env), background(beat, broker.env, tmp_path / "beat.log"):
        wait_until(lambda: rows("widget.touched") == [{"id": 30, "attempts": 1}], "the task, on files")
        wait_until(lambda: len(rows("widget.heartbeat")) >= 2, "two periodic runs sent by beat")
    assert (tmp_path / "var" / f"celerybeat-{settings.SERVICE_NAME}").exists() or any(
        (tmp_path / "var").glob(f"celerybeat-{settings.SERVICE_NAME}*")
    )


def test_the_worker_consumes_only_its_own_service_queue():
    from chassis.management.commands.worker import worker_argv

    argv = worker_argv(
        concurrency=2, pool="solo", loglevel="INFO", queue=task_queue("x"), extra=["-n", "a@b"]
    )
    assert argv[argv.index("--queues") + 1] == "x.tasks"
    assert argv[-2:] == ["-n", "a@b"]


def test_each_service_names_its_worker_node_so_two_services_share_a_host_and_a_broker():
    """Two workers named celery@<host> on one broker vhost claim the same exclusive pidbox queue: the
    second dies with RESOURCE_LOCKED (an Order service worker next to a Payment service worker did)."""
    from chassis.management.commands.worker import worker_argv

    def argv(service: str, extra: list[str]) -> list[str]:
        return worker_argv(
            concurrency=1, pool="solo", loglevel="INFO", queue="q", extra=extra, service=service
        )

    order, payment = argv("order_service", []), argv("payment_service", [])
    assert order[order.index("--hostname") + 1] == "order_service@%h"
    assert payment[payment.index("--hostname") + 1] == "payment_service@%h"
    assert argv("order_service", ["-n", "a@b"]).count("a@b") == 1
    assert "--hostname" not in argv("order_service", ["-n", "a@b"])


def test_a_worker_touches_its_ready_file_once_it_consumes_and_removes_it_when_it_stops(tmp_path, use_broker):
    """CELERY_READY_FILE: what a readiness probe, the demo and the tests wait for before sending work that a
    deadline bounds (a payment's authorization waited for a worker still starting, 7 s under load)."""
    broker = use_broker(None)
    ready = tmp_path / "worker.ready"
    with run_worker(tmp_path, {**broker.env, "CELERY_READY_FILE": str(ready)}) as worker:
        wait_until(ready.exists, "the ready file")
        with transaction.atomic():
            enqueue_on_commit(tasks.widget_touch, 40)
        wait_until(lambda: rows("widget.touched") == [{"id": 40, "attempts": 1}], "the task, once ready")
        worker.terminate()
        worker.wait(30)
    assert not ready.exists()
