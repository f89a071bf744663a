"""`beat`: send this service's periodic tasks (settings.CELERY_BEAT_SCHEDULE) until stopped.

Run ONE beat per service (two would send every periodic task twice); its schedule state is kept in
`var/celerybeat-<service>` unless `--schedule` names another file.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from chassis.celery_app import app
from contracts import cli


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Send this service's periodic Celery tasks (CELERY_BEAT_SCHEDULE) until SIGTERM."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md): a
    # long-running worker waits for its broker as Celery does (/readyz reports it), so no broker example.
    cli_examples = {"bad_argument": ["--loglevel"]}

    def add_arguments(self, parser):
        parser.add_argument(
            "--schedule", default=None, help="schedule state file (default var/celerybeat-<service>)"
        )
        parser.add_argument("--loglevel", default=None, help="default: LOG_LEVEL")
        parser.add_argument("celery_args", nargs="*", help="passed to `celery beat` after --")

    def handle(self, *args, schedule=None, loglevel=None, celery_args=(), **options):
        argv = ["beat", "--loglevel", loglevel or settings.LOG_LEVEL]
        if schedule:
            argv += ["--schedule", schedule]
        cli.check_broker(settings.BROKER_URL)  # a broker that is down: one line, exit 2
        app.start([*argv, *celery_args])
