"""make bench-verify: the time `sync products verify` takes over N products (default 1M; goal < 30 s).

1. The source: the monolith database of BENCH_SYNC_DATABASE_URL (default techstore_bench_sync) with N
   products (bench/backfill_source.py), and a REAL Product service (gunicorn) on its own database
   (BENCH_SYNC_SERVICE_DATABASE_URL, default product_bench_sync), loaded by `sync products backfill`
   when it does not hold N documents yet. --keep-db keeps both between runs.
2. Timed: verify of the whole catalogue (0 differences expected); then, after changing --inject
   products in the monolith behind the sync's back, verify again (the drill-down finds exactly them)
   and --repair (re-syncs them and verifies again).
Prints a table; the last stdout line is one JSON object, also written to var/bench/verify.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from contracts.cli import count
from contracts.cli import positive_int as positive
from legacy_monolith.demo.services import running_product_service

from .backfill import DEFAULT_DATABASE_URL
from .backfill_source import bench_main, source_prepare
from .catalog_db import BenchError
from .report import run_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "verify.json"
GOAL_SECONDS = 30.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=positive, default=1_000_000, help="products (default 1000000)")
    parser.add_argument("--jobs", type=positive, default=os.cpu_count() or 1, help="source processes")
    parser.add_argument("--range-size", type=positive, default=1000, help="ids per checksum range (1000)")
    parser.add_argument("--inject", type=count, default=10, help="differences for the drill-down run (10)")
    parser.add_argument("--batch-size", type=positive, default=2000, help="backfill batch when loading")
    parser.add_argument("--keep-db", action="store_true", help="reuse both databases when they hold N")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def service_database_url(source_url: str) -> str:
    explicit = os.environ.get("BENCH_SYNC_SERVICE_DATABASE_URL")
    if explicit:
        return explicit
    name = urlsplit(source_url).path.lstrip("/")
    return urlsplit(source_url)._replace(path=f"/{name.replace('techstore', 'product')}_service").geturl()


def _drop(database_url: str) -> None:
    from legacy_monolith.demo.services import admin_connection

    name = urlsplit(database_url).path.lstrip("/")
    if "bench" not in name:
        raise BenchError(f"refusing to drop database {name!r}: its name must contain 'bench'")
    conn = admin_connection(database_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def run(args: argparse.Namespace, console: Console) -> dict:
    source_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    source_prepare(database_url=source_url, products=args.products, keep=args.keep_db, console=console)
    target_url = service_database_url(source_url)
    if not args.keep_db:
        _drop(target_url)

    from django.db import connections
    from django.db.models import F
    from django.db.models.functions import Concat

    from legacy_monolith.catalog.models import Product
    from migrations_data.engine.http import InternalApiClient
    from migrations_data.engine.progress import progress_tracker
    from migrations_data.products.backfill import backfill_products
    from migrations_data.products.verify import verify_products

    figures: dict = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp,
        running_product_service(var_dir=Path(tmp), database_url=target_url) as service,
    ):
        client = InternalApiClient(service.url, service.token, read_timeout=300)
        held = int(client.get("/internal/v1/sync/status")["products"])
        if held != args.products:
            console.print(f"• loading the service: it holds {held:,} of {args.products:,} documents")
            with progress_tracker(enabled=not args.no_progress, console=console) as tracker:
                _, loaded, _ = backfill_products(
                    client=client, batch_size=args.batch_size, restart=True, tracker=tracker
                )
            figures["load"] = {"rows": loaded.rows, "seconds": round(loaded.seconds, 1)}

        def timed(label: str, **options):
            connections.close_all()
            console.print(f"• {label}")
            started = time.perf_counter()
            report = verify_products(client=client, range_size=args.range_size, jobs=args.jobs, **options)
            return report, time.perf_counter() - started

        clean, clean_seconds = timed("verify (clean)")
        if clean.differences:
            raise BenchError(f"verify found {clean.differences} differences in a clean copy")
        ids = list(Product.objects.order_by("?").values_list("id", flat=True)[: args.inject])
        Product.objects.filter(id__in=ids).update(name=Concat(F("name"), F("sku")))
        drilled, drilled_seconds = timed(f"verify after changing {len(ids)} products")
        if sorted(drilled.different) != sorted(ids):
            raise BenchError(f"verify found {drilled.different}, not the changed {sorted(ids)}")
        repaired, repaired_seconds = timed("verify --repair", repair=True)
        if (repaired.repaired or {}).get("remaining") != 0:
            raise BenchError(f"repair left differences: {repaired.repaired}")
        client.close()
    return {
        "bench": "verify",
        "products": args.products,
        "rows_verified": clean.source_rows,
        "verify_seconds": round(clean_seconds, 2),
        "rows_per_second": round(clean.source_rows / clean_seconds, 1),
        "goal_seconds": GOAL_SECONDS,
        "goal_met": clean_seconds < GOAL_SECONDS,
        "ranges": clean.ranges,
        "range_size": args.range_size,
        "jobs": args.jobs,
        "drill_down": {
            "changed": len(ids),
            "found": len(drilled.different),
            "seconds": round(drilled_seconds, 2),
        },
        "repair": {**(repaired.repaired or {}), "seconds": round(repaired_seconds, 2)},
        **figures,
        **run_facts(),
    }


def summary(report: dict) -> Table:
    table = Table(title=f"bench-verify: {report['products']:,} products, {report['jobs']} source processes")
    table.add_column("run")
    table.add_column("seconds", justify="right")
    table.add_column("result")
    table.add_row(
        "verify (clean)",
        f"{report['verify_seconds']:.2f}",
        f"{report['rows_verified']:,} rows, 0 differences",
    )
    d = report["drill_down"]
    table.add_row(
        "verify, drill-down", f"{d['seconds']:.2f}", f"{d['found']} of {d['changed']} changed ids found"
    )
    r = report["repair"]
    table.add_row(
        "verify --repair",
        f"{r['seconds']:.2f}",
        f"{r.get('applied', 0)} re-synced, {r.get('remaining')} left",
    )
    met = "met" if report["goal_met"] else "NOT met"
    table.caption = f"goal: under {GOAL_SECONDS:.0f} s for the clean verify ({met})"
    return table


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return bench_main("bench-verify", lambda console: run(args, console), summary, args.output)


if __name__ == "__main__":
    sys.exit(main())
