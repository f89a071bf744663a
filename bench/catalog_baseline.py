"""make bench-catalog-baseline: the monolith's catalog listing under gunicorn, measured.

Recreates the bench database (PostgreSQL), migrates, seeds 100k products with a fixed seed, starts the
monolith under gunicorn as production runs it, then times three scenarios against the HTTP contract:
list (varied pages), filter (category + price range + in_stock + an attribute) and search (q=).
Prints a table, writes var/bench/catalog-baseline.json and ends with that JSON on one stdout line;
later benches compare the Product service against these figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import secrets
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .catalog_db import BenchError, database_prepare
from .load import Client, add_load_arguments, scenario_run
from .report import progress_bar
from .stats import ScenarioFigures

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/techstore_bench"
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "catalog-baseline.json"
PAGE_SIZE = 20  # the contract's default page size; every scenario uses it


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_baseline", description=__doc__.split("\n")[0]
    )
    add_load_arguments(
        parser,
        per="scenario",
        keep_db_help="reuse the bench database if it holds this seed",
        default_output=DEFAULT_OUTPUT,
    )
    return parser.parse_args(argv)


def product_page_count(client: Client) -> int:
    _, count, failure = client.fetch("/api/v1/catalog/products?page=1")
    if failure or not count:
        raise BenchError(f"GET /api/v1/catalog/products answered {failure or 'no products'}")
    return math.ceil(count / PAGE_SIZE)


# ---------------------------------------------------------------- main


def environment(args: argparse.Namespace) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    connection.close()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "django": metadata.version("django"),
        "gunicorn": metadata.version("gunicorn"),
        "postgresql": postgres,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "gunicorn_workers": args.workers,
        "gunicorn_threads": args.threads,
        "client_concurrency": args.concurrency,
        "debug": False,
        # The machine may be shared: the 1-minute load average when measuring starts tells how quiet it was.
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "commit": commit or None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    database_url = os.environ["DATABASE_URL"]
    out, err = Console(width=120), Console(stderr=True)
    try:
        seeded = database_prepare(
            database_url=database_url, products=args.products, seed=args.seed, keep=args.keep_db, console=err
        )
        env = environment(args)
        figures, failures = _measure(args, database_url, err)
    except BenchError as exc:
        err.print(f"[red]bench failed:[/red] {exc}")
        return 2

    table = Table(title=f"Catalog baseline: monolith under gunicorn, {args.products:,} products")
    for column in (
        "scenario",
        "requests",
        "errors",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "mean ms",
        "max ms",
        "req/s",
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name, f in figures.items():
        table.add_row(
            name, *map(str, (f.requests, f.errors, f.p50_ms, f.p90_ms, f.p99_ms, f.mean_ms, f.max_ms, f.rps))
        )
    out.print(table)
    for failure in failures[:10]:
        err.print(f"[red]error:[/red] {failure}")
    report = {
        "bench": "catalog-baseline",
        "products": args.products,
        "seed": args.seed,
        "requests_per_scenario": args.requests,
        "scenarios": {name: f.as_dict() for name, f in figures.items()},
        "seed_seconds": seeded["seconds"],
        "env": env,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    line = json.dumps(report, sort_keys=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(line + "\n")
    errors = sum(f.errors for f in figures.values())
    if errors:
        err.print(f"[red]{errors} requests failed: the figures are not a valid baseline[/red]")
    sys.stdout.flush()
    print(line, flush=True)
    return 1 if errors else 0


def _measure(
    args: argparse.Namespace, database_url: str, err: Console
) -> tuple[dict[str, ScenarioFigures], list]:
    # Imported once Django is set up: the scenarios read the seed's catalogue spec.
    from legacy_monolith.demo.processes import ProcessStartError, free_port, monolith_process

    from .catalog_scenarios import SCENARIOS, scenario_paths

    port = free_port()
    server_env = {
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PAYMENT_WEBHOOK_SECRET": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
    }
    server = monolith_process(
        port=port,
        env=server_env,
        workers=args.workers,
        threads=args.threads,
        log_path=args.output.with_name("catalog-baseline.gunicorn.log"),
    )
    server = dataclasses.replace(server, ready_url=f"http://127.0.0.1:{port}/readyz")
    rng = random.Random(f"catalog-baseline:{args.seed}")
    figures: dict[str, ScenarioFigures] = {}
    failures: list[str] = []
    try:
        err.print(
            f"• starting gunicorn on :{port} ({args.workers} workers x {args.threads} threads, DEBUG off)"
        )
        server.start(timeout=60)
        client = Client(f"http://127.0.0.1:{port}")
        pages = product_page_count(client)
        with progress_bar(err, label_width=16, disable=args.no_progress) as progress:
            for name in SCENARIOS:
                warm = scenario_paths(name, rng, count=args.warmup, product_pages=pages)
                measured = scenario_paths(name, rng, count=args.requests, product_pages=pages)
                task = progress.add_task(f"{name} (warm-up)", total=len(warm))
                scenario_run(
                    client, warm, concurrency=args.concurrency, on_done=lambda t=task: progress.advance(t)
                )
                progress.update(task, description=name, total=len(measured), completed=0)
                figures[name], failed = scenario_run(
                    client, measured, concurrency=args.concurrency, on_done=lambda t=task: progress.advance(t)
                )
                failures.extend(failed)
    except ProcessStartError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        server.stop()
    return figures, failures


if __name__ == "__main__":
    sys.exit(main())
