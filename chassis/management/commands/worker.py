"""`worker`: run this service's Celery worker on its own task queue (`<service>.tasks`) until stopped.

`python -m extracted.<svc> worker [--concurrency N] [--pool prefork|threads|solo] [-- celery worker args]`.
Tasks are acknowledged late: a worker killed mid-task leaves its message to be delivered again.
The node is named `<service>@<host>` (not Celery's `celery@<host>`): two services' workers on one host and
one broker virtual host would otherwise claim the same exclusive remote-control queue (`celery@<host>.
celery.pidbox`) and the second would die with RESOURCE_LOCKED. `-n`/`--hostname` after `--` overrides it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from chassis.celery_app import app, task_queue
from contracts import cli

POOLS = ("prefork", "threads", "solo")


def worker_argv(
    *, concurrency: int, pool: str, loglevel: str, queue: str, extra: list[str], service: str = ""
) -> list[str]:
    named = any(arg in ("-n", "--hostname") or arg.startswith("--hostname=") for arg in extra)
    hostname = ["--hostname", f"{service}@%h"] if service and not named else []
    return [
        "worker",
        *hostname,
        "--queues",
        queue,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        loglevel,
        "--without-gossip",
        "--without-mingle",
        *extra,
    ]


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Run this service's Celery worker (its tasks queue) until SIGTERM."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md): a
    # long-running worker waits for its broker as Celery does (/readyz reports it), so no broker example.
    cli_examples = {"bad_argument": ["--concurrency", "0"]}

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=cli.positive_int, default=2, help="processes or threads")
        parser.add_argument("--pool", choices=POOLS, default="prefork")
        parser.add_argument("--loglevel", default=None, help="default: LOG_LEVEL")
        parser.add_argument("celery_args", nargs="*", help="passed to `celery worker` after --")

    def handle(self, *args, concurrency=2, pool="prefork", loglevel=None, celery_args=(), **options):
        argv = worker_argv(
            concurrency=concurrency,
            pool=pool,
            loglevel=loglevel or settings.LOG_LEVEL,
            queue=task_queue(settings.SERVICE_NAME),
            extra=list(celery_args),
            service=settings.SERVICE_NAME,
        )
        cli.check_broker(settings.BROKER_URL)  # a broker that is down: one line, exit 2
        app.worker_main(argv)
