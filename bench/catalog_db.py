"""The catalog bench database: recreated, migrated and seeded with a fixed seed, or kept when it
already holds exactly that seed (--keep-db). Only databases whose name contains "bench" are dropped."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

REPO_ROOT = Path(__file__).resolve().parents[1]
MARKER = REPO_ROOT / "var" / "bench" / "catalog-baseline.db.json"
SEED_AS_OF = datetime(2026, 1, 1, tzinfo=UTC)  # fixed, so every run seeds byte-identical data
SEED_USERS = 20


class BenchError(Exception):
    """The bench could not run (setup, database, server); the message says why."""


def database_prepare(*, database_url: str, products: int, seed: int, keep: bool, console: Console) -> dict:
    """(Re)create, migrate and seed the bench database unless --keep-db finds it already seeded."""
    name = urlsplit(database_url).path.lstrip("/")
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise BenchError(f"the catalog baseline runs on PostgreSQL; DATABASE_URL is {database_url!r}")
    if "bench" not in name:
        raise BenchError(
            f"refusing to drop database {name!r}: its name must contain 'bench' (BENCH_DATABASE_URL)"
        )
    marker = MARKER
    wanted = {"database": name, "products": products, "seed": seed, "as_of": SEED_AS_OF.isoformat()}
    if keep:
        reason = _kept_database_mismatch(database_url, marker, wanted)
        if reason is None:
            console.print(f"• keeping database {name}: it holds seed {seed} with {products} products")
            _django_setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            return json.loads(marker.read_text())["seed_result"]
        console.print(f"• reseeding database {name}: {reason}")

    import psycopg2

    server = urlsplit(database_url)._replace(path="/postgres").geturl()
    conn = psycopg2.connect(server)
    try:
        conn.autocommit = True  # DROP/CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cursor:
            console.print(f"• recreating database {name}")
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    _django_setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from legacy_monolith.core.management.seeding import seed_techstore

    console.print("• migrating")
    call_command("migrate", verbosity=0)
    console.print(f"• seeding {products:,} products (seed {seed})")
    result = seed_techstore(users=SEED_USERS, products=products, orders=0, seed=seed, as_of=SEED_AS_OF)
    console.print(f"  seeded in {result.total_seconds:.1f} s; VACUUM ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    seed_summary = {"seconds": result.total_seconds, "created": result.created}
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({**wanted, "fingerprint": _fingerprint(), "seed_result": seed_summary}))
    connections.close_all()
    return seed_summary


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    import django

    django.setup()


def _fingerprint() -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), sum(price)::text, sum(stock), max(id) FROM catalog_product")
        return list(cursor.fetchone())


def _kept_database_mismatch(database_url: str, marker: Path, wanted: dict) -> str | None:
    """Why the existing bench database cannot be kept, or None when it can."""
    if not marker.exists():
        return f"no record of a previous seed ({marker} is missing)"
    recorded = json.loads(marker.read_text())
    if {key: recorded.get(key) for key in wanted} != wanted:
        return f"it was seeded with { ({k: recorded.get(k) for k in wanted}) }"
    import psycopg2

    try:
        conn = psycopg2.connect(database_url)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT count(*), sum(price)::text, sum(stock), max(id) FROM catalog_product")
                found = list(cursor.fetchone())
        finally:
            conn.close()
    except psycopg2.Error as exc:
        return f"it cannot be read ({str(exc).strip().splitlines()[0]})"
    return None if found == recorded["fingerprint"] else "its products changed since it was seeded"
