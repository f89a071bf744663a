"""What every bench ends with: medians over repetitions, and one JSON line on stdout that is also kept under
var/bench/<bench>.json (see bench/README.md)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .stats import percentile

REPO_ROOT = Path(__file__).resolve().parents[1]


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def git_commit() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def emit_json_line(report: dict, output: Path) -> str:
    """Write the report to `output` and print it as the last stdout line; return the line."""
    line = json.dumps(report, sort_keys=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(line + "\n")
    sys.stdout.flush()
    print(line, flush=True)
    return line


def run_facts() -> dict:
    """Where and when a single-shot bench ran (bench-backfill, bench-verify)."""
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": load_average(),
    }


def stack_env(load_before: list[float]) -> dict:
    """The `env` of a wrk bench (bench-gateway, bench-shadow): the machine, its load before and after."""
    return {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "commit": git_commit(),
    }


def elapsed_since(started: float) -> dict:
    """How long a bench took (from a `time.monotonic()` start) and when it ended."""
    return {
        "seconds": round(time.monotonic() - started, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def progress_bar(console: Console, *, label_width: int, disable: bool) -> Progress:
    """The benches' progress display on stderr: a bold label padded to `label_width`, bar, n/N, elapsed."""
    return Progress(
        TextColumn(f"[bold]{{task.description:<{label_width}}}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )
