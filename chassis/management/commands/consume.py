"""`consume <name>`: run one of settings.CONSUMERS until stopped, or --once / --max-messages N."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chassis.broker import broker_connection
from chassis.consumers import ConsumerWorker, consumer_named
from contracts import cli


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Consume events for one consumer (idempotent, with retries and a dead-letter queue)."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md);
    # {consumer} is the first of settings.CONSUMERS.
    cli_examples = {
        "database": ["{consumer}", "--once", "--timeout", "5"],
        "broker": ["{consumer}", "--once", "--timeout", "5"],
        "bad_argument": ["{consumer}", "--max-messages", "-1"],
    }

    def add_arguments(self, parser):
        parser.add_argument("name", help="the consumer's name (settings.CONSUMERS)")
        cli.add_once(parser, "stop when the queue is empty")
        parser.add_argument("--max-messages", type=cli.positive_int, default=None)

    def handle(self, *args, name: str, once=False, timeout=None, max_messages=None, **options):
        try:
            consumer_cls = consumer_named(name)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if once:
            cli.check_broker(settings.BROKER_URL, timeout=min(5.0, timeout))
        precheck_database()
        with broker_connection() as connection:
            worker = ConsumerWorker(
                consumer_cls(),
                connection,
                exchange=settings.EVENTS_EXCHANGE,
                max_attempts=settings.CONSUMER_MAX_ATTEMPTS,
                retry_base_ms=settings.CONSUMER_RETRY_BASE_MS,
            )
            signal.signal(signal.SIGTERM, lambda *_: worker.stop())
            signal.signal(signal.SIGINT, lambda *_: worker.stop())
            stats = worker.run(max_messages=max_messages, once=once, timeout=timeout if once else None)
        self.stdout.write(
            f"consume {name}: {stats.processed} processed, {stats.duplicate} duplicates, "
            f"{stats.retried} retried, {stats.dead_lettered} dead-lettered, {stats.ignored} ignored"
        )


def precheck_database() -> None:
    """Touch the processed-events table: a database that is down, missing or not migrated fails here, at
    start, rather than at the first message."""
    from chassis.models import ProcessedEvent

    ProcessedEvent.objects.exists()
