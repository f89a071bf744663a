"""`relay_outbox`: publish this service's outbox rows to the broker (until SIGTERM, or --once)."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from chassis.broker import Publisher
from chassis.outbox.relay import OutboxRelay
from chassis.outbox.source import ServiceOutboxSource
from contracts import cli


class Command(BaseCommand):
    help = "Relay the outbox to the events exchange with publisher confirms."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="stop when the outbox is empty")
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--max-batches", type=int, default=None)
        cli.add_interval(parser, 0.5, "seconds between polls of an empty outbox")

    def handle(self, *args, once=False, batch_size=100, max_batches=None, interval=0.5, **options):
        publisher = Publisher(
            settings.BROKER_URL,
            transport_options=settings.BROKER_TRANSPORT_OPTIONS,
            exchange=settings.EVENTS_EXCHANGE,
        )
        relay = OutboxRelay(
            ServiceOutboxSource(),
            publisher,
            name=settings.SERVICE_NAME,
            batch_size=batch_size,
            idle_seconds=interval,
        )
        signal.signal(signal.SIGTERM, lambda *_: relay.stop())
        signal.signal(signal.SIGINT, lambda *_: relay.stop())
        try:
            stats = relay.run(max_batches=max_batches, until_empty=once)
        finally:
            publisher.close()
        self.stdout.write(
            f"relay_outbox: {stats.sent} sent in {stats.batches} batches, {stats.failures} failures"
        )
