"""`consume <name>`: run one of settings.CONSUMERS until stopped, or --once / --max-messages N."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chassis.broker import broker_connection
from chassis.consumers import ConsumerWorker, consumer_named


class Command(BaseCommand):
    help = "Consume events for one consumer (idempotent, with retries and a dead-letter queue)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the consumer's name (settings.CONSUMERS)")
        parser.add_argument("--once", action="store_true", help="stop when the queue is empty")
        parser.add_argument("--max-messages", type=int, default=None)

    def handle(self, *args, name: str, once=False, max_messages=None, **options):
        try:
            consumer_cls = consumer_named(name)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
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
            stats = worker.run(max_messages=max_messages, once=once)
        self.stdout.write(
            f"consume {name}: {stats.processed} processed, {stats.duplicate} duplicates, "
            f"{stats.retried} retried, {stats.dead_lettered} dead-lettered, {stats.ignored} ignored"
        )
