"""`manage.py rollout ...`: argument parsing and rendering; the work is in services, controller, selectors.

Exit codes (contracts/cli, through the management command): 0 done; 1 a check failed (gates refused the
start: one line per failed gate on stderr; `--dry-run` with a failing gate); 2 bad usage or an unusable
environment, one line on stderr."""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from contracts.cli import check_port_free
from contracts.cli import port as port_number
from control.commandline import console_for, print_json
from control.durations import parse_duration, show_duration
from control.errors import ControlError, GatesRefused
from control.rollout import services
from control.rollout.controller import Controller
from control.rollout.selectors import rollout_events, rollout_list
from flags.config import default_actor
from kernel.metrics_port import serving

EXIT_OK, EXIT_CHECK_FAILED, EXIT_ERROR = 0, 1, 2


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        return p

    start = command("start", "start a guarded rollout of a route (the controller `rollout run` drives it)")
    start.add_argument("route")
    start.add_argument("--steps", default="1,5,25,50,100", help="percentages, rising (default 1,5,25,50,100)")
    start.add_argument("--step-time", type=_duration, default=30.0, help="time per step, e.g. 30s (default)")
    start.add_argument(
        "--dry-run", action="store_true", help="check everything and print the plan; change nothing"
    )
    start.add_argument("--actor", default=None, help="who the records name (default: $USER@host)")
    status = command("status", "rollouts and their last decisions")
    status.add_argument("route", nargs="?")
    status.add_argument("--events", type=int, default=5, help="latest events shown per rollout")
    for name, text in (
        ("pause", "pause a route's rollout (its flag stays as it is)"),
        ("resume", "resume a paused rollout from its current step"),
        ("abort", "abort a route's rollout: its flag goes off (one write), all users to legacy"),
        ("close", "close a route's open rollback, so its flag may be raised again"),
    ):
        p = command(name, text)
        p.add_argument("route")
        p.add_argument("--actor", default=None)
        if name != "resume":
            p.add_argument("--reason", default="", help="why (recorded; required by close)")
    run = command("run", "the controller: drive every running rollout until stopped (SIGTERM/SIGINT)")
    run.add_argument("--interval", type=_duration, default=0.25, help="seconds between ticks (default 0.25)")
    run.add_argument("--lease", type=_duration, default=5.0, help="lease on a rollout (default 5s)")
    run.add_argument("--once", action="store_true", help="one tick, then stop")
    run.add_argument("--duration", type=_duration, default=None, help="stop after this long")
    run.add_argument("--no-progress", action="store_true", help="print only decisions (no periodic status)")
    run.add_argument("--metrics-port", type=port_number, default=None, help="serve the rollback counter here")
    run.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (0.0.0.0 in a container)"
    )
    override = command("override", "mint a tester override: a staff user's requests go to the routes' target")
    override.add_argument("routes", nargs="+", help="route ids, or '*' for every route")
    override.add_argument("--user", required=True, help="the staff user's id (the gateway checks the role)")
    override.add_argument("--ttl", type=_duration, default=3600.0, help="how long it is valid (default 1h)")


def rollout_view(rollout, events: int = 5) -> dict[str, Any]:
    return {
        "id": rollout.pk,
        "route": rollout.route,
        "flag": rollout.flag,
        "state": rollout.state,
        "steps": rollout.steps,
        "step": rollout.step_index,
        "percentage": rollout.percentage,
        "step_time": rollout.step_time,
        "reason": rollout.reason,
        "owner": rollout.owner,
        "last_verdict": rollout.last_verdict,
        "created_at": rollout.created_at,
        "finished_at": rollout.finished_at,
        "closed_at": rollout.closed_at,
        "events": [
            {"at": e.at, "kind": e.kind, "action": e.action, "percentage": e.percentage, "summary": e.summary}
            for e in rollout_events(rollout, limit=events)
        ],
    }


def run(options: dict[str, Any], *, out: IO[str], stop: threading.Event | None = None) -> int:
    console = console_for(out)
    actor = options.get("actor") or default_actor()
    command = options["command"]
    as_json = bool(options.get("json"))
    match command:
        case "start":
            try:
                plan = services.rollout_start(
                    route=options["route"],
                    steps=options["steps"],
                    step_time=options["step_time"],
                    actor=actor,
                    dry_run=options["dry_run"],
                )
            except GatesRefused as exc:
                if as_json:  # the plan and its gates on stdout; the refusal's lines on stderr
                    print_json(out, {"refused": True, **exc.extra})
                raise
            if as_json:
                print_json(out, plan.to_dict())
            else:
                what = "would start" if plan.dry_run else f"started rollout {plan.rollout_id}"
                console.print(
                    f"{what}: {plan.route} ({plan.flag}) from {plan.current_percentage}% through "
                    f"{', '.join(f'{s}%' for s in plan.steps)}, {show_duration(plan.step_time)} per step",
                    markup=False,
                )
                for gate in plan.gates:
                    console.print(
                        f"  gate {gate.gate}: {'ok' if gate.passed else 'FAILS'}: {gate.message}",
                        markup=False,
                    )
                if plan.dry_run and not plan.gates_passed:
                    return EXIT_CHECK_FAILED
        case "status":
            views = [rollout_view(r, options["events"]) for r in rollout_list(options.get("route"))]
            if as_json:
                print_json(out, {"rollouts": views})
            else:
                table = Table(title="rollouts")
                for column in ("id", "route", "state", "step", "last decision / reason"):
                    table.add_column(column, overflow="fold")
                for view in views:
                    verdict = view["last_verdict"] or {}
                    said = view["reason"] or "; ".join(verdict.get("reasons") or [])
                    step = f"{view['percentage']}% ({view['step'] + 1}/{len(view['steps'])})"
                    table.add_row(str(view["id"]), view["route"], view["state"], step, said)
                console.print(table)
        case "pause" | "resume" | "abort" | "close":
            route = options["route"]
            reason = options.get("reason") or f"{command} by {actor}"
            if command == "pause":
                rollout = services.rollout_pause(route=route, reason=reason, actor=actor)
            elif command == "resume":
                rollout = services.rollout_resume(route=route, actor=actor)
            elif command == "abort":
                rollout = services.rollout_abort(route=route, reason=reason, actor=actor)
            else:
                rollout = services.rollout_close(route=route, reason=options.get("reason") or "", actor=actor)
            if as_json:
                print_json(out, rollout_view(rollout))
            else:
                console.print(f"rollout {rollout.pk} of {route}: {rollout.state}", markup=False)
        case "run":
            return run_controller(options, out=out, console=console, stop=stop)
        case "override":
            return mint(options, out=out, console=console)
        case _:
            raise ControlError("unknown_command", f"unknown rollout command {command!r}")
    return EXIT_OK


def run_controller(options: dict[str, Any], *, out: IO[str], console: Console, stop=None) -> int:
    """The controller until stopped; with --metrics-port its /metrics (the rollback counter) meanwhile."""
    host, port = options.get("metrics_host") or "127.0.0.1", options.get("metrics_port")
    if port:
        check_port_free(host, port, "--metrics-port")
    with serving(port, host):
        return _control(options, out=out, console=console, stop=stop)


def _control(options: dict[str, Any], *, out: IO[str], console: Console, stop=None) -> int:
    stop = stop or threading.Event()
    controller = Controller.from_env(lease=options["lease"])
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    console.print(f"rollout controller {controller.owner}: every {options['interval']:g}s", markup=False)
    deadline = time.monotonic() + options["duration"] if options.get("duration") else None
    decisions = 0
    try:
        while not stop.is_set():
            for report in controller.tick():
                key = (report.action, report.detail.split(":")[0])
                if report.action != "hold" or (
                    not options["no_progress"] and previous.get(report.rollout) != key
                ):
                    decisions += report.action != "hold"
                    line = (
                        report.to_dict()
                        if options.get("json")
                        else (f"{report.route} (rollout {report.rollout}): {report.action}: {report.detail}")
                    )
                    out.write((json.dumps(line) if options.get("json") else line) + "\n")
                    out.flush()
                previous[report.rollout] = key
            if options["once"] or (deadline is not None and time.monotonic() >= deadline):
                break
            stop.wait(options["interval"])
    finally:
        controller.release_all()
    console.print(f"controller stopped: {decisions} actions taken", markup=False)
    return EXIT_OK


def mint(options: dict[str, Any], *, out: IO[str], console: Console) -> int:
    import os

    from contracts.override import COOKIE, HEADER, KEY_ENV, mint_override

    key = os.environ.get(KEY_ENV, "")
    if not key:
        raise ControlError("no_override_key", f"{KEY_ENV} is not set (the gateway and this command share it)")
    try:
        token, grant = mint_override(
            key, user_id=options["user"], routes=options["routes"], ttl_seconds=int(options["ttl"])
        )
    except ValueError as exc:
        raise ControlError("bad_override", str(exc)) from None
    if options.get("json"):
        print_json(
            out,
            {
                "token": token,
                "user": grant.user_id,
                "routes": list(grant.routes),
                "expires_at": grant.expires_at,
                "header": HEADER,
                "cookie": COOKIE,
            },
        )
    else:
        out.write(token + "\n")
        console.print(
            f"send it as `{HEADER}: <token>` or the cookie `{COOKIE}`; honoured for staff user "
            f"{grant.user_id} only, on {', '.join(grant.routes)}, until "
            f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(grant.expires_at))}",
            markup=False,
        )
    return EXIT_OK
