"""What every bench ends with: medians over repetitions, and one JSON line on stdout that is also kept under
var/bench/<bench>.json (see bench/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

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
