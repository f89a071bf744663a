"""The `sync users ...` actions (registered in migrations_data/management/commands/sync.py's ENTITIES):
each takes the parsed options and the command, and returns the exit code."""

from __future__ import annotations

import argparse
from typing import Any

from contracts import cli
from migrations_data.engine.actions import backfill_action, follow_action, verify_action
from migrations_data.engine.backfill import run_backfill

from .follow import run_follow
from .spec import auth_client, user_spec
from .verify import verify_users


def users_backfill(options: dict[str, Any], command) -> int:
    return backfill_action(
        options,
        command,
        lambda **backfill: [run_backfill(user_spec(auth_client()), **backfill)],
    )


def follow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="one pass over the changed users, then stop")
    cli.add_interval(parser, 2.0, "seconds between passes")
    parser.add_argument("--batch-size", type=int, default=500, help="users per import call (default 500)")
    parser.add_argument(
        "--overlap",
        type=float,
        default=5.0,
        help="seconds each pass re-reads behind its checkpoint (default 5)",
    )
    parser.add_argument("--json", action="store_true", help="print the run's summary as JSON")


def users_follow(options: dict[str, Any], command) -> int:
    """Keyset passes over changed users until SIGTERM/SIGINT (or one with --once)."""
    return follow_action(
        options,
        command,
        lambda stop: run_follow(
            auth_client(),
            once=options["once"],
            interval=options["interval"],
            batch_size=options["batch_size"],
            overlap=options["overlap"],
            stop_event=stop,
        ),
    )


def receive_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_once(parser, "stop when the queue has been empty for a second")
    parser.add_argument("--max-messages", type=int, default=None, help="stop after this many events")
    parser.add_argument("--json", action="store_true", help="print the run's summary as JSON")


def users_receive(options: dict[str, Any], command) -> int:
    """Apply the Auth service's user.upserted events to the monolith until SIGTERM/SIGINT (or --once)."""
    from migrations_data.engine.receive import run_receiver

    from .receive import UsersReceiver

    return follow_action(
        options,
        command,
        lambda stop: run_receiver(
            UsersReceiver(),
            once=options["once"],
            max_messages=options["max_messages"],
            stop_event=stop,
            timeout=options["timeout"],
        ),
    )


def users_verify(options: dict[str, Any], command) -> int:
    return verify_action(
        options,
        command,
        lambda **verify: verify_users(client=auth_client(), **verify),
        entity="users",
    )
