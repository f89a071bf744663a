"""Throwaway PostgreSQL databases on the server of DATABASE_URL, for tests that start real processes."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse, urlunparse

import psycopg2


def admin_connection(url: str):
    parts = urlparse(url)
    conn = psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
    )
    conn.autocommit = True
    return conn


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A fresh database named <prefix>_<random>, dropped afterwards (FORCE ends stray sessions)."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        raise RuntimeError("these tests run against PostgreSQL: set DATABASE_URL (make test does)")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = admin_connection(base)
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(base)._replace(path=f"/{name}"))
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
