"""HTTP load with wrk (Debian package `wrk`): keep-alive connections, fixed duration, one JSON line of totals
and latency percentiles printed by bench/gateway/report.lua. Usable by any bench that needs wrk."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPORT_SCRIPT = Path(__file__).resolve().parent / "gateway" / "report.lua"


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no report line."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int  # connect/read/write errors, timeouts and non-2xx/3xx answers
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkError("wrk is not installed (Debian: apt-get install wrk; `make bench-gateway` does it)")
    return found


def wrk_run(url: str, *, connections: int, seconds: float, threads: int | None = None) -> WrkResult:
    """Drive `url` with `connections` keep-alive connections for `seconds`; raise WrkError on failure."""
    threads = threads or min(connections, 2)
    argv = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(REPORT_SCRIPT),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise WrkError(
            f"wrk {url} exited with {done.returncode}: {done.stderr.strip() or done.stdout[-300:]}"
        )
    raw = json.loads(lines[-1])
    duration = raw["duration_us"] / 1e6
    errors = sum(
        raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return WrkResult(
        requests=raw["requests"],
        seconds=round(duration, 3),
        errors=errors,
        rps=round(raw["requests"] / duration, 1) if duration else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=round(raw["mean_us"] / 1000, 3),
        max_ms=raw["max_us"] / 1000,
    )
