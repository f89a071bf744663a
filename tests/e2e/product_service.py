"""A REAL Product service for cross-process tests: its own throwaway PostgreSQL database, migrated with
`python -m extracted.product_service migrate`, served by gunicorn (`... serve`) on a free port
(legacy_monolith/demo/services.py), and the module-scoped `product_service` fixture."""

import pytest

from legacy_monolith.demo.services import ProductService, running_product_service

__all__ = ["ProductService", "product_service", "running_product_service"]


@pytest.fixture(scope="module")
def product_service(tmp_path_factory):
    """A REAL Product service for the module (import this fixture where it is needed)."""
    with running_product_service(var_dir=tmp_path_factory.mktemp("product-service")) as service:
        yield service
