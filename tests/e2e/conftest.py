"""e2e fixtures: a throwaway PostgreSQL database per test module, on the server of DATABASE_URL."""

import os

import pytest

from tests.e2e.databases import throwaway_database


@pytest.fixture(scope="module")
def e2e_database_url():
    """A fresh database named techstore_e2e_<random>, dropped afterwards (FORCE ends stray sessions)."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.fail("the e2e tests run against PostgreSQL: set DATABASE_URL (make test does)")
    with throwaway_database("techstore_e2e") as url:
        yield url


# A REAL Product service (gunicorn) on its own throwaway database: tests/e2e/product_service.py.
from tests.e2e.product_service import product_service as product_service_process  # noqa: E402, F401
