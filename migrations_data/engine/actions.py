"""What every entity's `sync <entity> <action>` shares (products in
migrations_data/management/commands/sync.py, users in migrations_data/users/command.py): option checks,
the progress-tracked backfill, SIGTERM/SIGINT handling of the follow loops, and printing of results."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from .checkpoint import verify_record
from .errors import SyncError
from .progress import progress_tracker
from .report import backfill_table, console_for, verify_table, write_json

EXIT_OK, EXIT_DIFFERENCES = 0, 1

T = TypeVar("T")


def require_positive(options: dict[str, Any], *names: str) -> None:
    """Refuse (`invalid_option`) unless every named option is at least 1."""
    if any(options[name] < 1 for name in names):
        flags = " and ".join("--" + name.replace("_", "-") for name in names)
        raise SyncError(f"{flags} must be at least 1", code="invalid_option")


def backfill_action(options: dict[str, Any], command, run: Callable[..., Iterable[Any]]) -> int:
    """`run(batch_size=, dry_run=, restart=, in_flight=, tracker=)` returns the backfill results;
    printed as a table or, with --json, as JSON."""
    require_positive(options, "batch_size", "in_flight")
    show_progress = not options["no_progress"] and not options["json"]
    with progress_tracker(enabled=show_progress) as tracker:
        results = list(
            run(
                batch_size=options["batch_size"],
                dry_run=options["dry_run"],
                restart=options["restart"],
                in_flight=options["in_flight"],
                tracker=tracker,
            )
        )
    if options["json"]:
        write_json(command.stdout, {"backfill": [r.as_dict() for r in results]})
    else:
        console_for(command.stdout).print(backfill_table(results))
    return EXIT_OK


def follow_action(options: dict[str, Any], command, run: Callable[[threading.Event], Any]) -> int:
    """`run(stop_event)` until SIGTERM/SIGINT sets the event; a ValueError is an `invalid_option`.
    The result's summary is printed as `key: value` lines or, with --json, as JSON."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        result = run(stop)
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


def verify_action(
    options: dict[str, Any], command, run: Callable[..., Any], *, entity: str | None = None
) -> int:
    """`run(repair=, range_size=, jobs=)` returns the verify report; exit 0 when nothing differs (or
    everything was repaired). With `entity`, the outcome is recorded (checkpoint.verify_record)."""
    require_positive(options, "range_size", "jobs")
    if options.get("format") is not None:  # the old spelling of --json
        command.stderr.write("sync: warning: --format is deprecated: use --json (or nothing for the table)")
    report = run(repair=options["repair"], range_size=options["range_size"], jobs=options["jobs"])
    if entity is not None:
        differences = report.differences + sum(other.differences for other in report.also)
        verify_record(entity=entity, differences=differences, clean=report.clean)
    if options.get("json") or options.get("format") == "json":
        write_json(command.stdout, report.as_dict())
    else:
        for each in (report, *report.also):
            console_for(command.stdout).print(verify_table(each))
    if report.also:
        return EXIT_OK if report.clean else EXIT_DIFFERENCES
    if report.repaired is not None:
        return EXIT_OK if report.repaired["remaining"] == 0 else EXIT_DIFFERENCES
    return EXIT_OK if report.differences == 0 else EXIT_DIFFERENCES
