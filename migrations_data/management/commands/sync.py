"""`manage.py sync <entity> <action>`: data sync between the monolith and the extracted services.

    sync products backfill [--batch-size N] [--in-flight N] [--dry-run] [--restart] [--no-progress] [--json]
    sync products follow   [--once [--timeout S]] [--interval S] [--batch-size N] [--metrics-port P]
                           [--no-progress] [--json]   (the outbox relay)
    sync products status   [--queue Q] [--json] [--check]
    sync products verify   [--repair] [--json] [--range-size N] [--jobs N]
    sync products receive  [--once] [--max-messages N] [--json]   (the Product service's own writes back)
    sync users backfill|follow|verify|receive   (the Auth service; receive = its events into the monolith)
    sync orders|payments backfill|follow|status|verify [--repair]   (the Order and Payment services)

An entity is one entry of ENTITIES (its actions, each a parser setup and a function that does the work
and returns a result); `sync users ...` is added the same way. Exit codes: 0 done (verify: no
differences, or all repaired), 1 verify found differences (status --check: not in sync), 2 error
(one line: `code: message`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.management.base import BaseCommand

from contracts import cli
from migrations_data.engine.actions import backfill_action, follow_action, verify_action
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.report import console_for, write_json

EXIT_OK, EXIT_DIFFERENCES, EXIT_ERROR = 0, 1, 2


@dataclass(frozen=True)
class Action:
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[dict[str, Any], Any], int]  # (options, command) -> exit code


# --- products ----------------------------------------------------------------------------------------


def _backfill_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size", type=cli.positive_int, default=1000, help="rows per import call (default 1000)"
    )
    parser.add_argument(
        "--in-flight", type=cli.positive_int, default=2, help="batches on the wire at once (default 2)"
    )
    parser.add_argument("--dry-run", action="store_true", help="read and translate only; send nothing")
    parser.add_argument("--restart", action="store_true", help="ignore an unfinished run's checkpoint")
    cli.add_no_progress(parser)
    cli.add_json(parser, "print the summary as JSON")


def products_backfill(options: dict[str, Any], command) -> int:
    from migrations_data.products.backfill import backfill_products

    return backfill_action(
        options,
        command,
        lambda **backfill: backfill_products(client=InternalApiClient.from_settings(), **backfill),
    )


def _verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repair", action="store_true", help="re-sync exactly the differing ids")
    cli.add_json(parser, "print the report as JSON")
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default=None,
        help="deprecated: --format json is --json",
    )
    parser.add_argument(
        "--range-size", type=cli.positive_int, default=1000, help="ids per checksum range (default 1000)"
    )
    parser.add_argument(
        "--jobs",
        type=cli.positive_int,
        default=os.cpu_count() or 1,
        help="processes reading the source (default: CPUs)",
    )


def products_verify(options: dict[str, Any], command) -> int:
    from migrations_data.products.verify import verify_products

    return verify_action(
        options,
        command,
        lambda **verify: verify_products(client=InternalApiClient.from_settings(), **verify),
        entity="products",
    )


def _follow_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_once(parser, "relay what is pending, then stop")
    parser.add_argument(
        "--batch-size", type=cli.positive_int, default=500, help="outbox rows per transaction"
    )
    cli.add_interval(parser, 1.0, "seconds between polls of an empty outbox", deprecated=["--poll-interval"])
    parser.add_argument("--exchange", default=None, help="topic exchange (default strangler.events)")
    parser.add_argument(
        "--metrics-port", type=cli.port, default=None, help="serve the lag gauges on this port"
    )
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (0.0.0.0 in a container)"
    )
    cli.add_no_progress(parser)
    cli.add_json(parser, "print the run's summary as JSON")


def products_follow(options: dict[str, Any], command) -> int:
    """Relay the outbox until SIGTERM/SIGINT (or, with --once, until it is drained or --timeout passes)."""
    from migrations_data.outbox.relay import relay_precheck, run_relay

    if options["metrics_port"]:
        cli.check_port_free(options["metrics_host"], options["metrics_port"], "--metrics-port")
    relay_precheck()
    return follow_action(
        options,
        command,
        lambda stop: run_relay(
            batch_size=options["batch_size"],
            once=options["once"],
            timeout=options["timeout"] if options["once"] else None,
            poll_interval=options["interval"],
            stop_event=stop,
            progress=not options["no_progress"] and not options["json"],
            metrics_port=options["metrics_port"],
            metrics_host=options["metrics_host"],
            **({"exchange": options["exchange"]} if options["exchange"] else {}),
        ),
    )


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--queue", default=None, help="the consumer queue whose depth to report")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 unless fully in sync")


def products_status(options: dict[str, Any], command) -> int:
    from migrations_data.outbox.status import status_table, sync_status

    status = sync_status(**({"queue": options["queue"]} if options["queue"] else {}))
    if options["json"]:
        write_json(command.stdout, status.as_dict())
    else:
        console_for(command.stdout).print(status_table(status))
    return EXIT_DIFFERENCES if options["check"] and not status.in_sync else EXIT_OK


ENTITIES: dict[str, dict[str, Action]] = {
    "products": {
        "backfill": Action(
            "copy every category and product into the Product service", _backfill_arguments, products_backfill
        ),
        "follow": Action(
            "relay the outbox to the broker (incremental sync)", _follow_arguments, products_follow
        ),
        "status": Action("lag and checkpoints of the sync", _status_arguments, products_status),
        "verify": Action(
            "compare both sides by range checksums; --repair fixes the differences",
            _verify_arguments,
            products_verify,
        ),
        "receive": Action(
            "apply the Product service's catalog writes (route catalog.write) to the monolith",
            lambda parser: _receive_arguments(parser),
            lambda options, command: products_receive(options, command),
        ),
    },
}


def _receive_arguments(parser: argparse.ArgumentParser) -> None:
    from migrations_data.users.command import receive_arguments  # the same options as `sync users receive`

    receive_arguments(parser)


def products_receive(options: dict[str, Any], command) -> int:
    """The Product service's catalog.*.saved / catalog.stock.moved into the monolith until SIGTERM/SIGINT."""
    from migrations_data.engine.receive import run_receiver
    from migrations_data.products.receive import ProductsReceiver

    return follow_action(
        options,
        command,
        lambda stop: run_receiver(
            ProductsReceiver(),
            once=options["once"],
            max_messages=options["max_messages"],
            stop_event=stop,
            timeout=options["timeout"],
        ),
    )


# --- users (owner H5b: migrations_data/users; the same backfill/verify options as products) ---------


def _users_action(name: str):
    def run(options: dict[str, Any], command) -> int:
        from migrations_data.users import command as users

        return getattr(users, name)(options, command)

    return run


def _users_arguments(name: str):
    def configure(parser: argparse.ArgumentParser) -> None:
        from migrations_data.users import command as users

        getattr(users, name)(parser)

    return configure


ENTITIES["users"] = {
    "backfill": Action(
        "copy every monolith user into the Auth service", _backfill_arguments, _users_action("users_backfill")
    ),
    "follow": Action(
        "send changed users to the Auth service (periodic keyset pass)",
        _users_arguments("follow_arguments"),
        _users_action("users_follow"),
    ),
    "receive": Action(
        "apply the Auth service's user.upserted events to the monolith (the back direction)",
        _users_arguments("receive_arguments"),
        _users_action("users_receive"),
    ),
    "verify": Action(
        "compare users on both sides (no password hashes); --repair re-syncs each from its owner",
        _verify_arguments,
        _users_action("users_verify"),
    ),
}


# --- orders (the Order service; migrations_data/orders/command.py) ------------------------------------


def _orders(name: str, arguments: str):
    def run(options: dict[str, Any], command) -> int:
        from migrations_data.orders import command as orders

        return getattr(orders, name)(options, command)

    def configure(parser: argparse.ArgumentParser) -> None:
        from migrations_data.orders import command as orders

        getattr(orders, arguments)(parser)

    return configure, run


ENTITIES["orders"] = {
    "backfill": Action(
        "copy shipping rules, coupons and the monolith's orders into the Order service",
        *_orders("orders_backfill", "plain_arguments"),
    ),
    "follow": Action(
        "apply the Order service's order events to the monolith's tables",
        *_orders("orders_follow", "follow_arguments"),
    ),
    "status": Action("orders per origin on both sides", *_orders("orders_status", "plain_arguments")),
    "verify": Action(
        "compare every order on both sides; --repair re-sends each from its owner",
        *_orders("orders_verify", "verify_arguments"),
    ),
}


# --- payments (the Payment service; migrations_data/payments/command.py) --------------------------------


def _payments(name: str, arguments: str):
    def run(options: dict[str, Any], command) -> int:
        from migrations_data.payments import command as payments

        return getattr(payments, name)(options, command)

    def configure(parser: argparse.ArgumentParser) -> None:
        from migrations_data.payments import command as payments

        getattr(payments, arguments)(parser)

    return configure, run


ENTITIES["payments"] = {
    "backfill": Action(
        "copy blocklists, the monolith's payments (with refunds) and webhook events into the Payment service",
        *_payments("payments_backfill", "backfill_arguments"),
    ),
    "follow": Action(
        "both ways until stopped: the service's payments into the monolith, the monolith's changes to it",
        *_payments("payments_follow", "follow_arguments"),
    ),
    "status": Action("payments per origin on both sides", *_payments("payments_status", "plain_arguments")),
    "verify": Action(
        "compare every payment on both sides; --repair re-sends each from its owner",
        *_payments("payments_verify", "verify_arguments"),
    ),
}


# `sync products follow` is the monolith's whole outbox relay (account emails too): it keeps running when the
# catalog is decommissioned, with nothing of the catalog left to relay once its writes answer 410.
NOT_STOPPED_BY_DECOMMISSION = frozenset({("products", "follow")})
LOOPS = frozenset({"follow", "receive"})
STOP_POLL_SECONDS = 2.0


def refuse_if_stopped(entity: str) -> None:
    """A decommissioned module's sync jobs do not start (`decommission restore` lets them run again)."""
    from migrations_data.engine.checkpoint import sync_stopped
    from migrations_data.engine.errors import SyncError

    reason = sync_stopped(entity)
    if reason is not None:
        raise SyncError(f"the {entity} sync is stopped: {reason}", code="sync_stopped")


@contextlib.contextmanager
def stop_when_stopped(entity: str, *, enabled: bool):
    """While a follow or receive loop runs, watch the stop flag; once it is set, SIGTERM this process, which
    every loop already handles by finishing its batch and stopping."""
    if not enabled:
        yield
        return
    from django.db import connection

    from migrations_data.engine.checkpoint import sync_stopped

    done = threading.Event()

    def watch() -> None:
        try:
            while not done.wait(STOP_POLL_SECONDS):
                try:
                    stopped = sync_stopped(entity)
                except Exception:  # noqa: S112 - the database away for a moment: look again
                    continue
                if stopped is not None:
                    os.kill(os.getpid(), signal.SIGTERM)
                    return
        finally:
            connection.close()

    watcher = threading.Thread(target=watch, name=f"{entity}-stop-flag", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


# The loops that consume or publish on the broker: with --once, an unreachable broker is one line and exit 2
# at once (broker_unavailable), before anything else is touched.
BROKER_LOOPS = {
    ("products", "follow"),
    ("products", "receive"),
    ("users", "receive"),
    ("orders", "follow"),
    ("payments", "follow"),
}


def check_broker_for_once(timeout: float) -> None:
    from migrations_data.outbox.relay import broker_connection_args

    cli.check_broker(broker_connection_args()[0], timeout=min(5.0, timeout))


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Data sync with the extracted services: sync <entity> backfill|follow|status|verify."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {
        "database": [["products", "status"], ["products", "follow", "--once", "--no-progress"]],
        "broker": [
            ["products", "follow", "--once", "--timeout", "5", "--no-progress"],
            ["products", "receive", "--once", "--timeout", "3"],
            ["orders", "follow", "--once", "--timeout", "3"],
        ],
        "port": ["products", "follow", "--once", "--metrics-port", "{port}", "--no-progress"],
        "bad_argument": [["products", "verify", "--jobs", "0"], ["users", "follow", "--interval", "0"]],
    }

    def add_arguments(self, parser) -> None:
        entities = parser.add_subparsers(dest="entity", metavar="ENTITY", required=True)
        for entity, actions in ENTITIES.items():
            entity_parser = entities.add_parser(entity, help=f"sync {entity}")
            sub = entity_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
            for name, action in actions.items():
                action.configure(sub.add_parser(name, help=action.help, description=action.help))

    def handle(self, *args, **options) -> None:
        action = ENTITIES[options["entity"]][options["action"]]
        # One line and exit 2 even through call_command (scripts and tests rely on it), not only from
        # the command line as ToolkitCommand does.
        entity, name = options["entity"], options["action"]
        with cli.guard(f"sync {entity} {name}", stderr=self.stderr, traceback=False):
            if options.get("once") and (entity, name) in BROKER_LOOPS:  # before the database: one line
                check_broker_for_once(options["timeout"])
            stoppable = name != "status" and (entity, name) not in NOT_STOPPED_BY_DECOMMISSION
            if stoppable:
                refuse_if_stopped(entity)
            with stop_when_stopped(entity, enabled=stoppable and name in LOOPS and not options.get("once")):
                code = action.run(options, self)
        if code != EXIT_OK:
            sys.exit(code)
