"""HTTP load: a fixed list of GETs over keep-alive sessions (one per client thread), timed one by one."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from contracts.cli import count
from contracts.cli import positive_int as positive

from .stats import ScenarioFigures, summarize


class Client:
    """Per-thread keep-alive sessions; fetch() times one GET including reading the body."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._local = threading.local()

    def fetch(self, path: str) -> tuple[float, int | None, str]:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        started = time.perf_counter()
        try:
            response = session.get(self.base_url + path, timeout=60)
        except requests.RequestException as exc:
            return time.perf_counter() - started, None, type(exc).__name__
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            return elapsed, None, f"HTTP {response.status_code} {response.text[:120]}"
        try:
            return elapsed, int(response.json()["count"]), ""
        except (ValueError, KeyError, TypeError):
            return elapsed, None, "200 without a page body"


@dataclass
class TimedRun:
    """One run, raw: per-request latencies (s), page counts of the successes, failures, wall time."""

    latencies: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0


def timed_run(
    client: Client, paths: Sequence[str], *, concurrency: int, on_done: Callable[[], None]
) -> TimedRun:
    run = TimedRun()

    def one(path: str) -> None:
        elapsed, count, failure = client.fetch(path)
        run.latencies.append(elapsed)
        if failure:
            run.failures.append(f"{path}: {failure}")
        else:
            run.counts.append(count)
        on_done()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, paths))
    run.wall_s = time.perf_counter() - started
    return run


def scenario_run(
    client: Client, paths: Sequence[str], *, concurrency: int, on_done: Callable[[], None]
) -> tuple[ScenarioFigures, list[str]]:
    run = timed_run(client, paths, concurrency=concurrency, on_done=on_done)
    figures = summarize(run.latencies, errors=len(run.failures), wall_s=run.wall_s, counts=run.counts)
    return figures, run.failures


def add_load_arguments(
    parser: argparse.ArgumentParser, *, per: str, keep_db_help: str, default_output: Path
) -> None:
    """The options the catalog benches share: seed size, request counts (per `per`), client threads,
    gunicorn sizing, database reuse, output and progress."""
    parser.add_argument(
        "--products", type=positive, default=100_000, help="products to seed (default 100000)"
    )
    parser.add_argument("--requests", type=positive, default=300, help=f"measured requests per {per} (300)")
    parser.add_argument("--concurrency", type=positive, default=4, help="client threads (default 4)")
    parser.add_argument("--warmup", type=count, default=20, help=f"unmeasured requests per {per} (20)")
    parser.add_argument("--seed", type=int, default=42, help="seed for the data and the request mix (42)")
    parser.add_argument("--workers", type=positive, default=2, help="gunicorn workers per server (default 2)")
    parser.add_argument("--threads", type=positive, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--keep-db", action="store_true", help=keep_db_help)
    parser.add_argument("--output", type=Path, default=default_output, help="where the JSON figures go")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
