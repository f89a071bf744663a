"""The `sync users ...` actions (registered in migrations_data/management/commands/sync.py's ENTITIES):
each takes the parsed options and the command, and returns the exit code."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from migrations_data.engine import SyncError
from migrations_data.engine.backfill import run_backfill
from migrations_data.engine.progress import progress_tracker
from migrations_data.engine.report import backfill_table, console_for, verify_table, write_json

from .follow import run_follow
from .spec import auth_client, user_spec
from .verify import verify_users

EXIT_OK, EXIT_DIFFERENCES = 0, 1


def users_backfill(options: dict[str, Any], command) -> int:
    if options["batch_size"] < 1 or options["in_flight"] < 1:
        raise SyncError("--batch-size and --in-flight must be at least 1", code="invalid_option")
    show_progress = not options["no_progress"] and not options["json"]
    with progress_tracker(enabled=show_progress) as tracker:
        result = run_backfill(
            user_spec(auth_client()),
            batch_size=options["batch_size"],
            dry_run=options["dry_run"],
            restart=options["restart"],
            in_flight=options["in_flight"],
            tracker=tracker,
        )
    if options["json"]:
        write_json(command.stdout, {"backfill": [result.as_dict()]})
    else:
        console_for(command.stdout).print(backfill_table([result]))
    return EXIT_OK


def follow_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="one pass over the changed users, then stop")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between passes (default 2)")
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
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = run_follow(
            auth_client(),
            once=options["once"],
            interval=options["interval"],
            batch_size=options["batch_size"],
            overlap=options["overlap"],
            stop_event=stop,
        )
    except ValueError as exc:
        raise SyncError(str(exc), code="invalid_option") from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if options["json"]:
        write_json(command.stdout, result.as_dict())
    else:
        for key, value in result.as_dict().items():
            command.stdout.write(f"{key}: {value}\n")
    return EXIT_OK


def users_verify(options: dict[str, Any], command) -> int:
    if options["range_size"] < 1 or options["jobs"] < 1:
        raise SyncError("--range-size and --jobs must be at least 1", code="invalid_option")
    report = verify_users(
        client=auth_client(), repair=options["repair"], range_size=options["range_size"], jobs=options["jobs"]
    )
    if options["format"] == "json":
        write_json(command.stdout, report.as_dict())
    else:
        console_for(command.stdout).print(verify_table(report))
    if report.repaired is not None:
        return EXIT_OK if report.repaired["remaining"] == 0 else EXIT_DIFFERENCES
    return EXIT_OK if report.differences == 0 else EXIT_DIFFERENCES
