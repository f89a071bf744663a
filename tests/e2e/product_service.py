"""A REAL Product service for cross-process tests: its own throwaway PostgreSQL database, migrated with
`python -m extracted.product_service migrate`, served by gunicorn (`... serve`) on a free port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from legacy_monolith.demo.processes import ManagedProcess, free_port, service_manage, service_process
from tests.e2e.databases import throwaway_database

DEV_INTERNAL_API_TOKEN = "dev-only-internal-api-token"  # DEV-ONLY, the default of both sides


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
    *, var_dir: Path, env: Mapping[str, str] | None = None, workers: int = 2
) -> Iterator[ProductService]:
    """The service on its own database; its read cache is off unless `env` turns it on (the locmem cache
    of one gunicorn worker would not see another worker's invalidations)."""
    with throwaway_database("product_test") as database_url:
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
            "product_service", port=port, env=full_env, workers=workers, log_path=var_dir / "product.log"
        )
        service = ProductService(f"http://127.0.0.1:{port}", database_url, full_env, process)
        service.start()
        try:
            yield service
        finally:
            service.stop()


@pytest.fixture(scope="module")
def product_service(tmp_path_factory):
    """A REAL Product service for the module (import this fixture where it is needed)."""
    with running_product_service(var_dir=tmp_path_factory.mktemp("product-service")) as service:
        yield service
