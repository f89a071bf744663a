"""`manage.py traffic record|replay`: argument parsing and rendering; the work is in record.py, replay.py
and compare.py.

Exit codes (contracts/cli, through the management command): 0 done (a replay whose comparison found no
real difference); 1 the comparison found real differences (the report names the fields); 2 bad usage or an
environment it cannot use (an unknown route, no gateway recording, an unreadable file, a candidate that
does not answer at all), one line on stderr."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections import Counter
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from contracts import cli as convention
from contracts.recording import default_control_path
from control.commandline import console_for, print_json
from control.durations import parse_duration
from control.errors import ControlError
from control.routes_file import upstream_urls
from control.traffic.compare import compare_all, replay_report
from control.traffic.flowfile import read_flows
from control.traffic.record import traffic_record
from control.traffic.replay import Replayed, base_url, replay
from shadow.comparator import Comparator
from shadow.rules_file import load_rules


class DifferencesFound(ControlError):
    exit_code = convention.EXIT_CHECK_FAILED


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: write 'Name: value'")
    return name.strip(), value.strip()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    record = sub.add_parser("record", help="record routes' traffic at the gateway into a flow file")
    record.add_argument("routes", nargs="+", metavar="ROUTE", help="route ids of the route table ('*': all)")
    record.add_argument("--for", dest="seconds", type=_duration, default=60.0, help="how long (default 60s)")
    record.add_argument(
        "--max",
        dest="max_flows",
        type=convention.positive_int,
        default=1000,
        help="most flows (default 1000)",
    )
    record.add_argument("--output", "-o", type=Path, required=True, help="the flow file to write")
    record.add_argument(
        "--control",
        type=Path,
        default=None,
        help="the recording request file the gateway polls (default GATEWAY_RECORD_CONTROL, "
        "else var/traffic/record.json)",
    )
    convention.add_json(record)
    convention.add_no_progress(record)

    play = sub.add_parser("replay", help="send a recording's requests to a candidate; --compare judges them")
    play.add_argument("file", type=Path, help="a flow file from `traffic record` (mitmproxy's format)")
    play.add_argument("--target", required=True, help="an upstream of the route table, or an http(s) URL")
    play.add_argument(
        "--rate",
        type=convention.positive_float,
        default=None,
        help="requests per second (default: as fast as answered)",
    )
    play.add_argument("--compare", action="store_true", help="compare each answer with the recorded one")
    play.add_argument("--route", action="append", default=[], help="only this route's flows (repeatable)")
    play.add_argument(
        "--repeats",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: ask twice, to learn the candidate's own noise",
    )
    play.add_argument(
        "--header",
        action="append",
        type=_header,
        default=[],
        help="'Name: value' added to every request (e.g. credentials)",
    )
    play.add_argument(
        "--include-writes", action="store_true", help="also replay writes, marked as shadow dry runs"
    )
    play.add_argument(
        "--request-timeout",
        type=convention.positive_float,
        default=30.0,
        help="seconds per request (default 30)",
    )
    play.add_argument(
        "--output", "-o", type=Path, default=None, help="write the comparison report to this file"
    )
    play.add_argument(
        "--format",
        choices=("html", "json"),
        default=None,
        help="of --output (default: by its suffix, else html)",
    )
    play.add_argument("--relative", type=float, default=None, help="noise threshold, percent (default 20)")
    play.add_argument("--absolute", type=float, default=None, help="noise threshold, %% of samples (0.03)")
    play.add_argument(
        "--rules", default=None, help="the shadow comparator's rules file (default SHADOW_RULES)"
    )
    convention.add_json(play)
    convention.add_no_progress(play)


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())


def run(options: dict[str, Any], *, out: IO[str], stop: threading.Event | None = None) -> int:
    console = console_for(out)
    if options["command"] == "record":
        return _record(options, out, console, stop or threading.Event())
    if options["command"] == "replay":
        return _replay(options, out, console)
    raise ControlError("unknown_command", f"unknown traffic command {options['command']!r}")


def _record(options: dict[str, Any], out: IO[str], console: Console, stop: threading.Event) -> int:
    _stop_on_signals(stop)
    quiet = options.get("no_progress") or options.get("json")
    with Progress(
        TextColumn("{task.description}"), TimeRemainingColumn(), console=console, disable=bool(quiet)
    ) as progress:
        task = progress.add_task("recording", total=options["seconds"])

        def show(state) -> None:
            progress.update(
                task,
                completed=options["seconds"] - state.seconds_left,
                description=f"recording: {state.flows} flows from {state.processes} gateway processes",
            )

        result = traffic_record(
            routes=options["routes"],
            seconds=options["seconds"],
            max_flows=options["max_flows"],
            output=options["output"],
            control=options.get("control") or default_control_path(),
            stop=stop,
            on_progress=show,
        )
    if options.get("json"):
        print_json(out, result.to_dict())
        return convention.EXIT_OK
    table = Table(title=f"recording {result.recording} ({result.ended_by}) -> {result.output}")
    for column in ("route", "flows"):
        table.add_column(column)
    for route, flows in result.by_route.items():
        table.add_row(route, str(flows))
    console.print(table)
    statuses = ", ".join(f"{status}: {n}" for status, n in result.by_status.items()) or "none"
    console.print(
        f"{result.flows} flows from {result.processes} gateway processes in {result.seconds:.1f} s "
        f"(statuses {statuses}); open it with `mitmdump -nr {result.output}` or replay it with "
        f"`manage.py traffic replay {result.output} --target UPSTREAM --compare`",
        markup=False,
    )
    return convention.EXIT_OK


def _replay(options: dict[str, Any], out: IO[str], console: Console) -> int:
    flows = read_flows(options["file"])
    target = base_url(options["target"], upstream_urls())
    rules = load_rules(options.get("rules") or settings.SHADOW_RULES) if options["compare"] else None
    replayed: list[Replayed] = []
    quiet = options.get("no_progress") or options.get("json")
    with Progress(
        TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), console=console, disable=bool(quiet)
    ) as progress:
        task = progress.add_task("replay", total=len(flows))
        for item in replay(
            flows,
            target=target,
            rate=options.get("rate"),
            repeats=options["repeats"],
            timeout=options["request_timeout"],
            headers=options["header"],
            routes=options["route"],
            include_writes=options["include_writes"],
        ):
            replayed.append(item)
            progress.advance(task)
    sent = [item for item in replayed if not item.skipped]
    failures = Counter(a.error for item in sent for a in item.answers if a.error)
    if sent and sum(failures.values()) == sum(len(item.answers) for item in sent):
        raise ControlError(
            "target_unavailable",
            f"the candidate at {target} answered none of {len(sent)} requests "
            f"({', '.join(sorted(failures))})",
        )
    summary = {
        "file": str(options["file"]),
        "target": target,
        "flows": len(flows),
        "sent": len(sent),
        "skipped": dict(Counter(item.skipped for item in replayed if item.skipped)),
        "statuses": dict(Counter(str(a.status or a.error) for item in sent for a in item.answers[:1])),
    }
    if rules is None:
        if options.get("json"):
            print_json(out, {"replay": summary})
        else:
            console.print(f"replayed {len(sent)} of {len(flows)} flows to {target}: {summary}", markup=False)
        return convention.EXIT_OK
    report = replay_report(
        compare_all(Comparator(rules), sent),
        rules,
        route=options["route"][0] if len(options["route"]) == 1 else None,
        relative=options.get("relative"),
        absolute=options.get("absolute"),
    )
    if options.get("output"):
        _write_report(report, options["output"], options.get("format"))
    if options.get("json"):
        print_json(out, {"replay": summary, "report": report.to_dict()})
    else:
        _print_comparison(console, summary, report, options.get("output"))
    different = [r.evidence for r in report.routes if r.evidence.real_mismatches]
    if different:
        named = "; ".join(f"{e.route}: {', '.join(sorted(e.real_paths))}" for e in different)
        raise DifferencesFound("differences_found", f"the candidate answers differently at {named}")
    return convention.EXIT_OK


def _write_report(report, output: Path, fmt: str | None) -> None:
    fmt = fmt or ("json" if output.suffix.lower() == ".json" else "html")
    if fmt == "html":
        from shadow.html import render_html

        text = render_html(report)
    else:
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ControlError("output_failed", f"cannot write {output}: {exc.strerror or exc}") from exc


def _print_comparison(console: Console, summary: dict, report, output: Path | None) -> None:
    table = Table(title=f"replay of {summary['file']} against {summary['target']}")
    for column in ("route", "compared", "not comparable", "match rate", "real differences at"):
        table.add_column(column, overflow="fold")
    for route in report.routes:
        e = route.evidence
        table.add_row(
            e.route,
            str(e.samples),
            str(e.skipped),
            f"{e.match_rate:.3f}%",
            ", ".join(sorted(e.real_paths)) or "-",
        )
    console.print(table)
    skipped = ", ".join(f"{why}: {n}" for why, n in summary["skipped"].items()) or "none"
    written = f"; report written to {output}" if output else ""
    console.print(
        f"{summary['sent']} of {summary['flows']} flows replayed (skipped {skipped}){written}", markup=False
    )
