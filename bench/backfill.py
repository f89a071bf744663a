"""make bench-backfill: `sync products backfill` rows/s against PostgreSQL COPY of the same rows.

1. The source: the monolith database of BENCH_SYNC_DATABASE_URL (default techstore_bench_sync) with N
   products (bench/backfill_source.py; --keep-db reuses it).
2. A REAL Product service (gunicorn, 2 workers) on a throwaway database; the backfill runs in this
   process exactly as `manage.py sync products backfill` does (keyset batches, the ACL translator, the
   import endpoint, a checkpoint per batch) and its products rows/s is measured.
3. The limit: the rows the service stored, exported with COPY TO, then loaded with one COPY FROM into an
   empty table of the same shape (LIKE ... INCLUDING ALL: same columns and indexes) in the same database.
   Goal: backfill rows/s >= 0.3 x COPY rows/s. Prints a table; the last stdout line is one JSON object,
   also written to var/bench/backfill.json.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg2
from rich.console import Console
from rich.table import Table

from contracts.cli import positive_int as positive
from legacy_monolith.demo.services import running_product_service

from .backfill_source import bench_main, source_prepare
from .catalog_db import BenchError
from .report import run_facts

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/techstore_bench_sync"
DEFAULT_OUTPUT = REPO_ROOT / "var" / "bench" / "backfill.json"
GOAL_RATIO = 0.3


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.backfill", description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=positive, default=200_000, help="products (default 200000)")
    parser.add_argument("--batch-size", type=positive, default=1000, help="rows per import call (1000)")
    parser.add_argument("--workers", type=positive, default=2, help="service gunicorn workers (2)")
    parser.add_argument("--keep-db", action="store_true", help="reuse the source database if it holds N")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def store_table(conn) -> str:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_name LIKE '%%catalogproduct'"
        )
        return cur.fetchone()[0]


def copy_limit(database_url: str) -> dict:
    """Rows/s of one COPY FROM of the service's stored rows into an empty table of the same shape (its
    indexes included: the limit), and, for context, into one with the same columns and no index."""
    conn = psycopg2.connect(database_url)
    try:
        table = store_table(conn)
        buffer = io.BytesIO()
        with conn.cursor() as cur:
            cur.copy_expert(f"COPY {table} TO STDOUT", buffer)
            cur.execute(f"SELECT count(*) FROM {table}")
            rows = cur.fetchone()[0]
        figures = {"rows": rows}
        for key, like in (("same_shape", "INCLUDING ALL"), ("no_index", "INCLUDING DEFAULTS")):
            with conn.cursor() as cur:
                cur.execute(f"CREATE TABLE bench_copy_limit (LIKE {table} {like})")
                conn.commit()
                buffer.seek(0)
                started = time.perf_counter()
                cur.copy_expert("COPY bench_copy_limit FROM STDIN", buffer)
                conn.commit()
                seconds = time.perf_counter() - started
                cur.execute("DROP TABLE bench_copy_limit")
                conn.commit()
            figures[key] = {"seconds": round(seconds, 3), "rows_per_second": round(rows / seconds, 1)}
    finally:
        conn.close()
    return {**figures, "rows_per_second": figures["same_shape"]["rows_per_second"]}


def run(args: argparse.Namespace, console: Console) -> dict:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    source_prepare(database_url=database_url, products=args.products, keep=args.keep_db, console=console)
    from migrations_data.engine.http import InternalApiClient
    from migrations_data.engine.progress import progress_tracker
    from migrations_data.products.backfill import backfill_products

    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        var_dir = Path(tmp)
        console.print(f"• starting the Product service ({args.workers} gunicorn workers)")
        with running_product_service(
            var_dir=var_dir, workers=args.workers, server_url=database_url, database_prefix="product_bench"
        ) as service:
            client = InternalApiClient(service.url, service.token)
            console.print(f"• backfill, batches of {args.batch_size}")
            with progress_tracker(enabled=not args.no_progress, console=console) as tracker:
                categories, products, _ = backfill_products(
                    client=client, batch_size=args.batch_size, restart=True, tracker=tracker
                )
            client.close()
            console.print("• COPY of the same rows into a table of the same shape")
            copy = copy_limit(service.database_url)
    if products.result.applied != args.products:
        raise BenchError(f"the service applied {products.result.applied} of {args.products} products")
    ratio = products.rows_per_second / copy["rows_per_second"]
    return {
        "bench": "backfill",
        "products": args.products,
        "batch_size": args.batch_size,
        "backfill": {
            "rows": products.rows,
            "seconds": round(products.seconds, 3),
            "rows_per_second": round(products.rows_per_second, 1),
            "categories_seconds": round(categories.seconds, 3),
        },
        "copy": copy,
        "ratio_to_copy": round(ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "goal_met": ratio >= GOAL_RATIO,
        "service_workers": args.workers,
        **run_facts(),
    }


def summary(report: dict) -> Table:
    table = Table(title=f"bench-backfill: {report['products']:,} products")
    for column in ("path", "rows", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column == "path" else "right")
    b, c = report["backfill"], report["copy"]
    table.add_row(
        "sync products backfill", f"{b['rows']:,}", f"{b['seconds']:.2f}", f"{b['rows_per_second']:,.0f}"
    )
    for label, key in (("COPY, same shape (limit)", "same_shape"), ("COPY, no index (context)", "no_index")):
        table.add_row(
            label, f"{c['rows']:,}", f"{c[key]['seconds']:.2f}", f"{c[key]['rows_per_second']:,.0f}"
        )
    table.caption = f"ratio {report['ratio_to_copy']:.2f} of COPY (goal >= {GOAL_RATIO})"
    return table


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return bench_main("bench-backfill", lambda console: run(args, console), summary, args.output)


if __name__ == "__main__":
    sys.exit(main())
