"""make bench-catalog: the Product service against the monolith's catalog, side by side, at 100k products.

The monolith's bench database is seeded as the baseline seeds it (bench/catalog_db.py); the same catalogue
is loaded into the Product service (its own database, migrated, through the import endpoint with the ACL's
translators, bench/catalog_service_load.py). Then three servers run under gunicorn: the monolith, the
service with its Redis cache (warm: the measured requests were replayed once before) and the service with
the cache off (cold: every request reaches the store). The baseline's request mixes (list, filter, search;
bench/catalog_scenarios.py) go to all three interleaved in small rounds, so a busy moment of the shared
machine hits every target alike. Prints p50/p99 per target and the monolith/service ratios; the goal is
a search p50 at least 20x faster. The last stdout line is one JSON object, also in var/bench/catalog.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import subprocess
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from .catalog_db import BenchError, database_prepare
from .load import Client, TimedRun, add_load_arguments, timed_run
from .report import emit_json_line, git_commit, load_average, progress_bar
from .stats import ScenarioFigures, summarize

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/techstore_bench"
DEFAULT_PRODUCT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/product_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "catalog.json"
PAGE_SIZE = 20
TARGETS = ("monolith", "service_cold", "service_warm")
GOAL_SEARCH_P50_RATIO = 20.0
ROUND = 10  # requests per target per round of the interleaving


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_service", description=__doc__.split("\n")[0]
    )
    add_load_arguments(
        parser,
        per="scenario and target",
        keep_db_help="reuse the monolith's bench database if seeded",
        default_output=DEFAULT_OUTPUT,
    )
    return parser.parse_args(argv)


def product_database_prepare(url: str, console: Console) -> None:
    """Drop and recreate the service's bench database (its name must contain 'bench')."""
    import psycopg2

    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        raise BenchError(f"the service's bench database must be PostgreSQL named *bench*: {url!r}")
    conn = psycopg2.connect(urlsplit(url)._replace(path="/postgres").geturl())
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            console.print(f"• recreating the service's database {name}")
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


def interleaved(
    clients: dict[str, Client], paths: list[str], *, concurrency: int, on_done
) -> tuple[dict[str, ScenarioFigures], list[str]]:
    """Every target gets every path; targets take turns in rounds of ROUND requests."""
    runs = {name: TimedRun() for name in clients}
    for start in range(0, len(paths), ROUND):
        chunk = paths[start : start + ROUND]
        for name, client in clients.items():
            run = timed_run(client, chunk, concurrency=concurrency, on_done=on_done)
            total = runs[name]
            total.latencies += run.latencies
            total.counts += run.counts
            total.failures += [f"{name} {failure}" for failure in run.failures]
            total.wall_s += run.wall_s
    figures = {
        name: summarize(run.latencies, errors=len(run.failures), wall_s=run.wall_s, counts=run.counts)
        for name, run in runs.items()
    }
    failures = [failure for run in runs.values() for failure in run.failures]
    return figures, failures


def ratio(monolith_ms: float, service_ms: float) -> float:
    return round(monolith_ms / service_ms, 1) if service_ms > 0 else math.inf


def _load(database_url: str, service_url: str, token: str, console: Console, no_progress: bool) -> dict:
    console.print(
        f"• loading the catalogue into the service at {service_url} (import endpoint, ACL translators)"
    )
    argv = [sys.executable, "-m", "bench.catalog_service_load", "--service-url", service_url]
    if no_progress:
        argv.append("--no-progress")
    done = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "INTERNAL_API_TOKEN": token},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"loading the service failed (exit {done.returncode})")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    console.print(f"  {summary['products']:,} products loaded in {summary['seconds']:.1f} s")
    return summary


def _vacuum(url: str) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def _forget_cache(redis_url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for keys in _batched(client.scan_iter(f"{prefix}:*", count=1000), 1000):
            client.delete(*keys)
    finally:
        client.close()


def _batched(items, size: int):
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _measure(
    args: argparse.Namespace, database_url: str, product_url: str, redis_url: str, err: Console
) -> dict:
    from legacy_monolith.demo.processes import (
        ProcessStartError,
        free_port,
        monolith_process,
        service_manage,
        service_process,
    )

    from .catalog_baseline import product_page_count
    from .catalog_scenarios import SCENARIOS, scenario_paths

    logs = args.output.parent
    token, prefix = secrets.token_urlsafe(32), f"bench-catalog-{uuid.uuid4().hex[:12]}"
    base_env = {
        "PRODUCT_DATABASE_URL": product_url,
        "CATALOG_STORE_URL": "orm",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "INTERNAL_API_TOKEN": token,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    warm_env = {
        **base_env,
        "REDIS_URL": redis_url,
        "PRODUCT_CACHE_ENABLED": "1",
        "PRODUCT_CACHE_PREFIX": prefix,
    }
    cold_env = {**base_env, "REDIS_URL": "", "PRODUCT_CACHE_ENABLED": "0"}
    monolith_env = {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "INTERNAL_API_TOKEN": secrets.token_urlsafe(32),
        "INTERNAL_IDENTITY_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    ports = {name: free_port() for name in TARGETS}
    servers = {
        "monolith": monolith_process(
            port=ports["monolith"],
            env=monolith_env,
            workers=args.workers,
            threads=args.threads,
            log_path=logs / "catalog.monolith.log",
        ),
        **{
            name: service_process(
                "product_service",
                port=ports[name],
                env=env,
                workers=args.workers,
                threads=args.threads,
                log_path=logs / f"catalog.{name.replace('_', '-')}.log",
            )
            for name, env in (("service_warm", warm_env), ("service_cold", cold_env))
        },
    }
    rng = random.Random(f"catalog-service:{args.seed}")
    figures: dict[str, dict[str, ScenarioFigures]] = {}
    failures: list[str] = []
    try:
        err.print("• migrating the service's database")
        service_manage("product_service", "migrate", "--noinput", env=base_env)
        servers["service_warm"].start(timeout=60)
        loaded = _load(
            database_url, f"http://127.0.0.1:{ports['service_warm']}", token, err, args.no_progress
        )
        err.print("• VACUUM ANALYZE (service)")
        _vacuum(product_url)
        for name in ("service_cold", "monolith"):
            err.print(
                f"• starting {name} on :{ports[name]} ({args.workers} workers x {args.threads} threads)"
            )
            servers[name].start(timeout=60)
        clients = {name: Client(f"http://127.0.0.1:{ports[name]}") for name in TARGETS}
        pages = product_page_count(clients["monolith"])
        with progress_bar(err, label_width=22, disable=args.no_progress) as progress:
            for scenario in SCENARIOS:
                warm = scenario_paths(scenario, rng, count=args.warmup, product_pages=pages)
                measured = scenario_paths(scenario, rng, count=args.requests, product_pages=pages)
                task = progress.add_task(f"{scenario} (warm-up)", total=len(warm) * 3 + len(measured))
                step = lambda t=task: progress.advance(t)  # noqa: E731
                interleaved(clients, warm, concurrency=args.concurrency, on_done=step)
                # Warm cache: the measured requests were asked once before (every measured one is a hit).
                timed_run(clients["service_warm"], measured, concurrency=args.concurrency, on_done=step)
                progress.update(task, description=scenario, total=len(measured) * 3, completed=0)
                figures[scenario], failed = interleaved(
                    clients, measured, concurrency=args.concurrency, on_done=step
                )
                failures.extend(failed)
    except ProcessStartError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        for server in servers.values():
            server.stop()
        _forget_cache(redis_url, prefix)
    return {"figures": figures, "failures": failures, "load": loaded}


def environment(args: argparse.Namespace) -> dict:
    from importlib import metadata

    return {
        "python": sys.version.split()[0],
        "django": metadata.version("django"),
        "gunicorn": metadata.version("gunicorn"),
        "cpu_count": os.cpu_count(),
        "gunicorn_workers": args.workers,
        "gunicorn_threads": args.threads,
        "client_concurrency": args.concurrency,
        "catalog_store": "orm (PostgreSQL JSONB)",
        "loadavg": load_average(),
        "commit": git_commit(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_url = os.environ["DATABASE_URL"]
    product_url = os.environ.get("BENCH_PRODUCT_DATABASE_URL") or DEFAULT_PRODUCT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    out, err = Console(width=140), Console(stderr=True)
    try:
        seeded = database_prepare(
            database_url=database_url, products=args.products, seed=args.seed, keep=args.keep_db, console=err
        )
        product_database_prepare(product_url, err)
        measured = _measure(args, database_url, product_url, redis_url, err)
    except BenchError as exc:
        err.print(f"[red]bench failed:[/red] {exc}")
        return 2

    figures: dict[str, dict[str, ScenarioFigures]] = measured["figures"]
    table = Table(title=f"Catalog: monolith vs Product service under gunicorn, {args.products:,} products")
    for column in (
        "scenario",
        "target",
        "requests",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "req/s",
        "matched",
        "p50 x",
        "p99 x",
    ):
        table.add_column(column, justify="left" if column in ("scenario", "target") else "right")
    scenarios: dict[str, dict] = {}
    for scenario, by_target in figures.items():
        base = by_target["monolith"]
        entry: dict = {name: f.as_dict() for name, f in by_target.items()}
        for name in ("service_cold", "service_warm"):
            entry[f"ratio_p50_{name.split('_')[1]}"] = ratio(base.p50_ms, by_target[name].p50_ms)
            entry[f"ratio_p99_{name.split('_')[1]}"] = ratio(base.p99_ms, by_target[name].p99_ms)
        entry["same_matches"] = len({f.avg_count for f in by_target.values()}) == 1
        scenarios[scenario] = entry
        for name, f in by_target.items():
            p50x = "1.0" if name == "monolith" else str(ratio(base.p50_ms, f.p50_ms))
            p99x = "1.0" if name == "monolith" else str(ratio(base.p99_ms, f.p99_ms))
            table.add_row(
                scenario, name, str(f.requests), str(f.errors), str(f.p50_ms), str(f.p90_ms), str(f.p99_ms),
                str(f.rps), str(f.avg_count), p50x, p99x,
            )  # fmt: skip
    out.print(table)
    for failure in measured["failures"][:10]:
        err.print(f"[red]error:[/red] {failure}")
    search = scenarios.get("search", {})
    goal = {
        "search_p50_ratio_min": GOAL_SEARCH_P50_RATIO,
        "search_p50_ratio_warm": search.get("ratio_p50_warm"),
        "search_p50_ratio_cold": search.get("ratio_p50_cold"),
        "met_warm": (search.get("ratio_p50_warm") or 0) >= GOAL_SEARCH_P50_RATIO,
        "met_cold": (search.get("ratio_p50_cold") or 0) >= GOAL_SEARCH_P50_RATIO,
    }
    out.print(
        f"search p50: {goal['search_p50_ratio_warm']}x faster warm, {goal['search_p50_ratio_cold']}x cold "
        f"(goal {GOAL_SEARCH_P50_RATIO:.0f}x)"
    )
    report = {
        "bench": "catalog-service",
        "products": args.products,
        "seed": args.seed,
        "requests_per_scenario": args.requests,
        "scenarios": scenarios,
        "goal": goal,
        "load": measured["load"],
        "seed_seconds": seeded["seconds"],
        "env": environment(args),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    errors = sum(f.errors for by_target in figures.values() for f in by_target.values())
    mismatched = [name for name, entry in scenarios.items() if not entry["same_matches"]]
    if errors:
        err.print(f"[red]{errors} requests failed: the figures are not valid[/red]")
    if mismatched:
        err.print(f"[red]the targets matched different row counts in {', '.join(mismatched)}[/red]")
    emit_json_line(report, args.output)
    return 1 if errors or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
