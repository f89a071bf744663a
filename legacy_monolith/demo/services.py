"""Extracted services as real processes on throwaway PostgreSQL databases: for the cross-process tests
and the benchmarks (the same way `monolith_process` serves the demo, the tests and the benches)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg2

from chassis.settings import DEV_INTERNAL_API_TOKEN

from .processes import ManagedProcess, free_port, service_manage, service_process


def admin_connection(url: str):
    """An autocommit connection to the `postgres` database of the server of `url`."""
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
def throwaway_database(prefix: str, *, server_url: str | None = None) -> Iterator[str]:
    """A fresh database named <prefix>_<random> on the server of `server_url` (default DATABASE_URL),
    dropped afterwards (FORCE ends stray sessions)."""
    base = server_url or os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        raise RuntimeError("a throwaway database needs PostgreSQL: set DATABASE_URL")
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


@contextlib.contextmanager
def rabbitmq_vhost(prefix: str = "strangler_e2e") -> Iterator[str]:
    """A RabbitMQ virtual host of the caller's own (its exchanges and queues live and die with it)."""
    import subprocess

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    ctl = ["rabbitmqctl", "-q"]
    subprocess.run([*ctl, "add_vhost", name], check=True, capture_output=True)  # noqa: S603 (our argv)
    permissions = [*ctl, "set_permissions", "-p", name, "guest", ".*", ".*", ".*"]
    subprocess.run(permissions, check=True, capture_output=True)  # noqa: S603 (our argv)
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    finally:
        subprocess.run([*ctl, "delete_vhost", name], check=False, capture_output=True)  # noqa: S603


def database_ensure(database_url: str) -> None:
    """Create the database of `database_url` unless it exists."""
    name = urlparse(database_url).path.lstrip("/")
    conn = admin_connection(database_url)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()


@dataclass
class ProductService:
    url: str
    database_url: str
    env: dict[str, str]
    process: ManagedProcess

    @property
    def token(self) -> str:
        return self.env["INTERNAL_API_TOKEN"]

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        self.process.start(timeout=60)


@contextlib.contextmanager
def running_product_service(
    *,
    var_dir: Path,
    env: Mapping[str, str] | None = None,
    workers: int = 2,
    threads: int = 4,
    server_url: str | None = None,
    database_prefix: str = "product_test",
    database_url: str | None = None,
) -> Iterator[ProductService]:
    """The Product service (`python -m extracted.product_service serve`) on its own migrated database:
    a throwaway one, or `database_url` (created when missing, kept afterwards). Its read cache is off
    unless `env` turns it on (the locmem cache of one gunicorn worker would not see another worker's
    invalidations)."""
    if database_url is not None:
        database_ensure(database_url)
    databases = (
        contextlib.nullcontext(database_url)
        if database_url is not None
        else throwaway_database(database_prefix, server_url=server_url)
    )
    with databases as database_url:
        port = free_port()
        full_env = {
            "PRODUCT_DATABASE_URL": database_url,
            "CATALOG_STORE_URL": "orm",
            "INTERNAL_API_TOKEN": DEV_INTERNAL_API_TOKEN,
            "PRODUCT_CACHE_ENABLED": "0",
            "STRANGLER_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus"),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            **(env or {}),
        }
        service_manage("product_service", "migrate", "--noinput", env=full_env)
        process = service_process(
            "product_service",
            port=port,
            env=full_env,
            workers=workers,
            threads=threads,
            log_path=var_dir / "product.log",
        )
        service = ProductService(f"http://127.0.0.1:{port}", database_url, full_env, process)
        service.start()
        try:
            yield service
        finally:
            service.stop()
