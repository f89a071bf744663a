"""The `shadow` command line (`manage.py shadow ...`): argument parsing and rendering only; the work is in
shadow/commands/*. Exit codes: 0 done (gate: passed), 1 gate not passed, 2 error (one line why)."""

from __future__ import annotations

import argparse
import io
import json
import signal
import threading
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts import cli
from kernel.metrics_port import serving
from shadow.commands.gate import shadow_gate
from shadow.commands.report import DEFAULT_TOP, Report, build_report
from shadow.commands.status import shadow_status
from shadow.commands.worker import DEFAULT_BATCH, WorkerResult, run_worker
from shadow.errors import ShadowError
from shadow.rules import Rules
from shadow.rules_file import load_rules
from shadow.transport import queue_url_from_env

EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR = cli.EXIT_OK, cli.EXIT_CHECK_FAILED, cli.EXIT_USAGE
ONCE_TIMEOUT = 600.0  # a --once drain of a large backlog (about 10 000 pairs per CPU second) needs time
QUEUE_HELP = "queue URL (default: SHADOW_QUEUE_URL, else an amqp BROKER_URL, else the file queue)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the result as JSON")
        p.add_argument("--rules", type=Path, default=None, help="rules file (default: SHADOW_RULES)")
        return p

    def noise_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--relative", type=float, default=None, help="noise threshold, percent (default 20)")
        p.add_argument("--absolute", type=float, default=None, help="noise threshold, %% of samples (0.03)")

    worker = command("worker", "consume shadow pairs, compare them and store the results")
    cli.add_once(worker, "stop when the queue is empty", timeout=ONCE_TIMEOUT)
    worker.add_argument("--max-pairs", type=cli.positive_int, default=None, help="stop after N messages")
    worker.add_argument(
        "--batch", type=cli.positive_int, default=DEFAULT_BATCH, help="pairs stored per transaction"
    )
    worker.add_argument("--queue", default=None, help=QUEUE_HELP)
    worker.add_argument(
        "--idle-timeout", type=cli.positive_float, default=1.0, help="--once: seconds of empty queue"
    )
    worker.add_argument(
        "--metrics-port", type=cli.port, default=None, help="serve the comparator's counters on this port"
    )
    worker.add_argument(
        "--metrics-host", default="127.0.0.1", help="address of the metrics port (0.0.0.0 in a container)"
    )
    cli.add_no_progress(worker)

    report = command("report", "match rate over time, top differing paths and example pairs per route")
    report.add_argument("--route", default=None, help="only this route id (one with stored pairs)")
    cli.add_since(report, "only pairs captured since")
    report.add_argument("--format", choices=("html", "json", "table"), default="table")
    report.add_argument("--output", "-o", type=Path, default=None, help="write to this file")
    report.add_argument(
        "--top", type=cli.positive_int, default=DEFAULT_TOP, help="differing paths shown per route"
    )
    noise_options(report)

    status = command("status", "per route: samples, match rate, age of the last pair; the queue backlog")
    status.add_argument("--route", default=None)
    status.add_argument("--queue", default=None, help=QUEUE_HELP)

    gate = command("gate", "exit 0 only when a route has enough samples and a high enough match rate")
    gate.add_argument("route")
    gate.add_argument("--min-match", type=float, required=True, help="percent, after noise cancellation")
    gate.add_argument("--min-samples", type=cli.positive_int, required=True)
    cli.add_since(gate, "only pairs captured since")
    noise_options(gate)


def run(options: argparse.Namespace | dict[str, Any], *, out: IO[str]) -> int:
    """Run one parsed command and render its result to `out`; returns the exit code. ShadowError on bad
    input or an unusable rules file, store or queue (the caller prints its message and exits 2)."""
    opts = options if isinstance(options, dict) else vars(options)
    as_json = bool(opts.get("json"))
    console = _console(out)
    rules = load_rules(opts.get("rules") or settings.SHADOW_RULES)
    match opts["command"]:
        case "worker":
            return _worker(opts, rules, out, console, as_json)
        case "report":
            report = build_report(
                rules=rules,
                route=opts.get("route"),
                since=cli.parse_since(opts.get("since")),
                relative=opts.get("relative"),
                absolute=opts.get("absolute"),
                top=opts.get("top") or DEFAULT_TOP,
            )
            _render_report(report, opts, out, console)
        case "status":
            result = shadow_status(rules=rules, queue_url=opts.get("queue") or queue_url_from_env())
            if as_json:
                _print_json(out, result.to_dict())
            else:
                table = Table(title="shadow comparison status")
                columns = ("route", "samples", "not comparable", "match rate", "raw match", "real paths")
                for column in (*columns, "last pair"):
                    table.add_column(column, overflow="fold")
                for r in result.routes:
                    age = "-" if r.last_pair_age_s is None else f"{r.last_pair_age_s:.0f} s ago"
                    table.add_row(
                        r.route,
                        str(r.samples),
                        str(r.skipped),
                        f"{r.match_rate:.3f}%",
                        f"{r.raw_match_rate:.3f}%",
                        ", ".join(r.real_paths) or "-",
                        age,
                    )
                console.print(table)
                backlog = result.backlog
                waiting = backlog.pairs if backlog.pairs is not None else f"unknown ({backlog.error})"
                console.print(f"queue backlog: {waiting} pairs ({backlog.location})", markup=False)
                console.print(f"dead letters: {result.dead_letters}")
        case "gate":
            result = shadow_gate(
                rules=rules,
                route=opts["route"],
                min_match=opts["min_match"],
                min_samples=opts["min_samples"],
                since=cli.parse_since(opts.get("since")),
                relative=opts.get("relative"),
                absolute=opts.get("absolute"),
            )
            if as_json:
                _print_json(out, result.to_dict())
            else:
                out.write(f"{'PASS' if result.passed else 'FAIL'}: {result.reason}\n")
            return EXIT_OK if result.passed else EXIT_GATE_FAILED
        case other:
            raise ShadowError("unknown_command", f"unknown shadow command {other!r}")
    return EXIT_OK


def _worker(opts: dict, rules: Rules, out: IO[str], console: Console, as_json: bool) -> int:
    metrics_host, metrics_port = opts.get("metrics_host") or "127.0.0.1", opts.get("metrics_port")
    if metrics_port:
        cli.check_port_free(metrics_host, metrics_port, "--metrics-port")
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    show_progress = not (opts.get("no_progress") or as_json)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not show_progress,
        transient=True,
    )
    task = progress.add_task("waiting for shadow pairs", total=opts.get("max_pairs"))

    def on_batch(result: WorkerResult) -> None:
        progress.update(
            task,
            completed=result.received,
            description=f"{result.received} pairs, {result.mismatched} mismatched, "
            f"{result.dead_letters} dead letters",
        )

    try:
        with serving(metrics_port, metrics_host), progress:
            result = run_worker(
                queue_url=opts.get("queue") or queue_url_from_env(),
                rules=rules,
                once=bool(opts.get("once")),
                timeout=opts.get("timeout") if opts.get("once") else None,
                max_pairs=opts.get("max_pairs"),
                batch_size=opts.get("batch") or DEFAULT_BATCH,
                idle_timeout=opts.get("idle_timeout", 1.0),
                stop_event=stop,
                on_batch=on_batch,
            )
    except KeyboardInterrupt:
        stop.set()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if as_json:
        _print_json(out, result.to_dict())
        return EXIT_OK
    table = Table(title="shadow worker")
    for column in ("route", "pairs"):
        table.add_column(column)
    for route, count in sorted(result.routes.items()):
        table.add_row(route, str(count))
    console.print(table)
    console.print(
        f"{result.received} received, {result.recorded} recorded, {result.duplicates} duplicates, "
        f"{result.matched} matched, {result.mismatched} mismatched, {result.skipped} not comparable, "
        f"{result.dead_letters} dead letters "
        f"in {result.elapsed_s:.1f} s ({result.pairs_per_second:.0f} pairs/s)"
    )
    return EXIT_OK


def _render_report(report: Report, opts: dict, out: IO[str], console: Console) -> None:
    fmt = opts.get("format") or "table"
    output: Path | None = opts.get("output")
    if fmt == "table" and output is None:
        _report_table(report, console)
        return
    if fmt == "html":
        from shadow.html import render_html

        text = render_html(report)
    elif fmt == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        buffer = io.StringIO()
        _report_table(report, _console(buffer))
        text = buffer.getvalue()
    if output is None:
        out.write(text)
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ShadowError("output_failed", f"cannot write {output}: {exc.strerror or exc}") from exc
    if opts.get("json"):
        _print_json(out, {"output": str(output), "format": fmt, "routes": len(report.routes)})
    else:
        console.print(f"shadow report ({fmt}, {len(report.routes)} routes) written to {output}", markup=False)


def _report_table(report: Report, console: Console) -> None:
    if not report.routes:
        console.print("no shadow pairs compared yet")
    for route in report.routes:
        e = route.evidence
        console.print(
            f"[bold]{e.route}[/]: {e.samples} samples, match rate {e.match_rate:.3f}% after noise "
            f"({e.raw_match_rate:.3f}% raw)"
        )
        table = Table(title=f"{e.route}: top differing paths")
        for column in ("path", "verdict", "raw", "noise", "noise share", "example trace"):
            table.add_column(column, overflow="fold")
        for v in route.top_paths:
            sample = route.examples.get(v.path) or []
            table.add_row(
                v.path,
                "[red]real[/]" if v.real else "[green]noise[/]",
                str(v.raw),
                f"{v.noise:.1f}",
                f"{100 * v.noise_share:.0f}%",
                sample[0]["trace_id"] if sample else "-",
            )
        console.print(table)
        over_time = Table(title=f"{e.route}: match rate per {route.bucket}")
        for column in ("from", "samples", "match rate", "raw"):
            over_time.add_column(column)
        for b in route.buckets:
            rates = f"{b.match_rate:.3f}%", f"{b.raw_match_rate:.3f}%"
            over_time.add_row(b.start.isoformat(), str(b.samples), *rates)
        console.print(over_time)


def _console(out: IO[str]) -> Console:
    is_tty = hasattr(out, "isatty") and out.isatty()
    return Console(file=out, width=None if is_tty else 160, soft_wrap=not is_tty, highlight=False)


def _print_json(out: IO[str], data: Any) -> None:
    out.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
