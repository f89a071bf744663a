"""`relay_outbox`: publish this service's outbox rows to the broker (until SIGTERM, or --once)."""

from __future__ import annotations

import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from chassis.broker import Publisher
from chassis.event_keys import EventSigner
from chassis.outbox.relay import OutboxRelay
from chassis.outbox.source import ServiceOutboxSource
from chassis.pg_listen import PgListener
from contracts import cli

OUTBOX_CHANNEL = "chassis_outbox"  # NOTIFYed by the outbox's trigger (chassis/outbox/migrations/0002)


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Relay the outbox to the events exchange with publisher confirms."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {
        "database": ["--once", "--timeout", "5"],
        "broker": ["--once", "--timeout", "5"],
        "bad_argument": ["--batch-size", "0"],
    }

    def add_arguments(self, parser):
        cli.add_once(parser, "stop when the outbox is empty")
        parser.add_argument("--batch-size", type=cli.positive_int, default=100)
        parser.add_argument("--max-batches", type=cli.positive_int, default=None)
        cli.add_interval(parser, 0.5, "seconds between polls of an empty outbox (without LISTEN)")
        parser.add_argument(
            "--wakeup-interval",
            type=cli.positive_float,
            default=1.0,
            help="PostgreSQL: the relay LISTENs for the outbox's NOTIFY and claims again at the latest "
            "after these seconds",
        )

    def handle(
        self,
        *args,
        once=False,
        timeout=None,
        batch_size=100,
        max_batches=None,
        interval=0.5,
        wakeup_interval=1.0,
        **options,
    ):
        if once:
            cli.check_broker(settings.BROKER_URL, timeout=min(5.0, timeout))
        source = ServiceOutboxSource()
        source.precheck()
        publisher = Publisher(
            settings.BROKER_URL,
            transport_options=settings.BROKER_TRANSPORT_OPTIONS,
            exchange=settings.EVENTS_EXCHANGE,
        )
        wakeup = None if once else PgListener([OUTBOX_CHANNEL])
        relay = OutboxRelay(
            source,
            publisher,
            name=settings.SERVICE_NAME,
            batch_size=batch_size,
            idle_seconds=interval,
            signer=EventSigner(),  # critical events signed with this service's key (chassis/event_keys.py)
            wakeup=wakeup,
            wakeup_seconds=wakeup_interval,
        )
        signal.signal(signal.SIGTERM, lambda *_: relay.stop())
        signal.signal(signal.SIGINT, lambda *_: relay.stop())
        try:
            stats = relay.run(max_batches=max_batches, until_empty=once, timeout=timeout if once else None)
        finally:
            publisher.close()
            if wakeup is not None:
                wakeup.close()
        if stats.timed_out:
            raise cli.EnvironmentUnusable(
                "timed_out",
                f"--once gave up after {timeout:g} s with rows still pending; last error: {stats.last_error}",
            )
        self.stdout.write(
            f"relay_outbox: {stats.sent} sent in {stats.batches} batches, {stats.failures} failures"
        )
