"""`manage.py decommission status | plan ROUTE | apply ROUTE | finalize ROUTE | restore ROUTE`: argument
parsing and rendering; the work is in services.py.

Exit codes (contracts/cli, through the management command): 0 done (status read; plan of a route that is
ready; apply, finalize or restore done or already done); 1 a check said no (the route is not
decommissionable, an archive does not match its checksum); 2 bad usage or an unusable environment (an
unknown route, a gateway or monolith whose metrics do not answer, pg_dump missing or failing)."""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import threading
from typing import IO, Any

from rich.table import Table

from contracts import cli as convention
from control.commandline import console_for, print_json
from control.decommission import services
from control.durations import parse_duration, show_duration


def _window(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"the window must be longer than 0, not {text!r}")
    return seconds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    window_help = (
        "how far back the monolith must have had no request: 7d in production, seconds in tests "
        "(default DECOMMISSION_WINDOW or 7d)"
    )

    status = sub.add_parser("status", help="per route: monolith requests over the window, sync, dependants")
    status.add_argument("routes", nargs="*", metavar="ROUTE", help="only these routes (default: all)")
    status.add_argument("--window", type=_window, default=None, help=window_help)
    status.add_argument(
        "--interval",
        type=convention.positive_float,
        default=None,
        help="keep sampling and printing every SECONDS until stopped (a days-long window needs samples)",
    )
    convention.add_json(status)

    plan = sub.add_parser("plan", help="exactly what `apply ROUTE` would change, and whether it may")
    plan.add_argument("route", metavar="ROUTE")
    plan.add_argument("--window", type=_window, default=None, help=window_help)
    convention.add_json(plan)

    for name, text in (
        ("apply", "retire the route's monolith side: legacy none, 410 Gone, sync stopped, tables archived"),
        ("finalize", "drop the archived tables, after checking the archive's checksum (no way back but it)"),
        (
            "restore",
            "roll back an apply: the tables from the archive, the sync jobs, the endpoints, the route",
        ),
    ):
        command = sub.add_parser(name, help=text, description=text)
        command.add_argument("route", metavar="ROUTE")
        if name == "apply":
            command.add_argument("--window", type=_window, default=None, help=window_help)
            command.add_argument("--actor", default=None, help="who applies it (default: the login name)")
        command.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
        convention.add_json(command)


def _window_of(options: dict[str, Any]) -> float:
    if options.get("window") is not None:
        return options["window"]
    try:
        return _window(services.default_window())
    except argparse.ArgumentTypeError as exc:
        raise convention.UsageError(f"DECOMMISSION_WINDOW: {exc}") from None


def run(options: dict[str, Any], *, out: IO[str]) -> int:
    command = options["command"]
    if command == "status":
        return _status(options, out)
    if command == "plan":
        change = services.plan(route=options["route"], window_seconds=_window_of(options))
        _render_change(change, options, out)
        if not change.status.decommissionable:
            reasons = change.status.reasons or [f"the route is {change.status.state}"]
            raise services.NotDecommissionable(change.route, reasons)
        return 0
    if command == "apply":
        actor = options.get("actor") or os.environ.get("USER") or _login()
        change = services.apply(
            route=options["route"],
            window_seconds=_window_of(options),
            dry_run=options["dry_run"],
            actor=actor,
        )
    elif command == "finalize":
        change = services.finalize(route=options["route"], dry_run=options["dry_run"])
    else:
        change = services.restore(route=options["route"], dry_run=options["dry_run"])
    _render_change(change, options, out)
    return 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _status(options: dict[str, Any], out: IO[str]) -> int:
    window = _window_of(options)
    interval = options.get("interval")
    stop = threading.Event()
    if interval:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while True:
        evidence = services.gather(window_seconds=window)
        found = (
            [services.route_status(evidence, r) for r in options["routes"]]
            if options["routes"]
            else services.statuses(evidence)
        )
        if options["json"]:
            print_json(out, {"window_seconds": window, "routes": [s.as_dict() for s in found]})
        else:
            console_for(out).print(status_table(found, window))
        if not interval or stop.wait(interval):
            return 0


def _share(status: services.RouteStatus) -> str:
    if status.monolith_requests is None:
        return "-"
    share = f"{status.share * 100:.1f}%" if status.total_requests else "-"
    return f"{status.monolith_requests}/{status.total_requests} ({share})"


def status_table(found: list[services.RouteStatus], window: float) -> Table:
    table = Table(title=f"Decommission status, window {show_duration(window)}", title_justify="left")
    for column in ("route", "state", "to monolith", "direct", "sync", "apps (tables)", "decommissionable"):
        table.add_column(column)
    for status in found:
        sync = ", ".join(
            f"{s.entity}: " + ("stopped" if s.stopped else "clean" if s.clean else s.problem() or "?")
            for s in status.sync
        )
        apps = ", ".join(
            f"{a} (carried)"
            if a in status.carries
            else f"{a} (kept by {', '.join(status.kept_by[a])})"
            if status.kept_by.get(a)
            else a
            for a in status.apps
        )
        verdict = (
            "[green]yes[/green]"
            if status.decommissionable
            else status.state
            if status.state in ("applied", "finalized")
            else "[red]no[/red]: " + "; ".join(status.reasons)
        )
        direct = "-" if status.direct_requests is None else str(status.direct_requests)
        table.add_row(status.route, status.state, _share(status), direct, sync or "-", apps or "-", verdict)
    return table


def _render_change(change: services.Change, options: dict[str, Any], out: IO[str]) -> None:
    if options["json"]:
        print_json(out, change.as_dict())
        return
    console = console_for(out)
    verb = {"plan": "Plan of", "apply": "Apply", "finalize": "Finalize", "restore": "Restore"}[change.action]
    title = f"{verb} {change.route}" + (" (dry run)" if change.dry_run and change.action != "plan" else "")
    if change.status is not None:
        console.print(status_table([change.status], change.status.window_seconds))
        for dependant in change.status.dependants:
            mark = "[red]blocks[/red]" if dependant.blocking else "ok"
            console.print(f"  {mark} {dependant.line()}")
        for reader in change.status.readers:
            console.print(f"  reads {reader['kind']}: {reader['name']} ({', '.join(reader['modules'])})")
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("change" if change.done or change.action == "plan" else "state")
    for n, step in enumerate(change.steps, 1):
        table.add_row(str(n), step)
    console.print(table)
    if change.archive:
        console.print(f"archive: {change.archive}" + (f"  sha256 {change.sha256}" if change.sha256 else ""))
    if change.action == "apply" and change.done and not change.dry_run:
        console.print(
            "The gateway reads its route table at start: restart or reload it to drop the legacy side."
        )
