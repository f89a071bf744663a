"""A REAL Product service per module for the catalog client tests."""

from tests.e2e.product_service import product_service  # noqa: F401 - a fixture
