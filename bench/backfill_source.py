"""The monolith database the sync benches read: recreated, migrated, seeded with `seed_techstore` (up to
100k products, seed 42), then grown to N products by SQL copies of those rows (new SKUs), so a million
rows take a minute, not an hour. Kept between runs with --keep-db when it already holds N products.
Only databases whose name contains "bench" are dropped."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
from rich.console import Console
from rich.table import Table

from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.services import admin_connection

from .catalog_db import BenchError
from .report import emit_json_line

SEEDED_AT_MOST = 100_000
PRODUCT_COLUMNS = (
    "name, slug, description, category_id, price, currency, attributes, image_urls, stock, weight_grams, "
    "is_active, created_at, updated_at"
)


def product_count(database_url: str) -> int | None:
    try:
        conn = psycopg2.connect(database_url)
    except psycopg2.Error:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM catalog_product")
            return cur.fetchone()[0]
    except psycopg2.Error:
        return None
    finally:
        conn.close()


def source_prepare(*, database_url: str, products: int, keep: bool, console: Console) -> None:
    """Make the database of `database_url` hold exactly `products` products, then point Django at it."""
    name = urlsplit(database_url).path.lstrip("/")
    if not database_url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        raise BenchError(f"the sync benches need a PostgreSQL database named *bench*, not {database_url!r}")
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"}
    if keep and product_count(database_url) == products:
        console.print(f"• keeping database {name}: it holds {products:,} products")
        manage("migrate", "--noinput", env=env)
    else:
        conn = admin_connection(database_url)
        with conn.cursor() as cur:
            console.print(f"• recreating database {name}")
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        manage("migrate", "--noinput", env=env)
        seeded = min(products, SEEDED_AT_MOST)
        console.print(f"• seeding {seeded:,} products (seed_techstore, seed 42)")
        seed = ("--users", "5", "--products", str(seeded), "--orders", "0", "--seed", "42", "--no-progress")
        manage("seed_techstore", *seed, env=env)
        if products > seeded:
            console.print(f"• growing to {products:,} products (SQL copies of the seeded rows, new SKUs)")
            _grow(database_url, seeded, products)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    import django

    django.setup()


def _grow(database_url: str, seeded: int, products: int) -> None:
    copies = -(-(products - seeded) // seeded)
    conn = psycopg2.connect(database_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"INSERT INTO catalog_product (sku, {PRODUCT_COLUMNS}) "
                f"SELECT p.sku || '-' || k, {PRODUCT_COLUMNS} "
                "FROM generate_series(1, %s) AS k CROSS JOIN LATERAL "
                "(SELECT * FROM catalog_product WHERE id <= %s ORDER BY id) AS p "
                "ORDER BY k, p.id LIMIT %s",
                [copies, seeded, products - seeded],
            )
            cur.execute("DELETE FROM migrations_data_outboxevent")  # the triggers' rows: nobody relays here
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def bench_main(
    name: str, run: Callable[[Console], dict], summary: Callable[[dict], Table], output: Path
) -> int:
    """Run a sync bench: progress and tables on stderr, the JSON line last on stdout; 2 on a setup error."""
    console = Console(stderr=True)
    try:
        report = run(console)
    except BenchError as exc:
        console.print(f"[red]{name}: {exc}")
        return 2
    console.print(summary(report))
    emit_json_line(report, output)
    return 0
