"""e2e fixtures: a throwaway PostgreSQL database per test module, on the server of DATABASE_URL."""

import os
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg2
import pytest


def _admin_connection(url: str):
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


@pytest.fixture(scope="module")
def e2e_database_url():
    """A fresh database named techstore_e2e_<random>, dropped afterwards (FORCE ends stray sessions)."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.fail("the e2e tests run against PostgreSQL: set DATABASE_URL (make test does)")
    name = f"techstore_e2e_{uuid.uuid4().hex[:10]}"
    conn = _admin_connection(base)
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunparse(urlparse(base)._replace(path=f"/{name}"))
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
