"""Fixtures shared by the whole suite. The database is the real PostgreSQL of DATABASE_URL."""

import pytest
from rest_framework.test import APIClient

from legacy_monolith.accounts.models import Role
from tests.factories import UserFactory

pytest_plugins = ["tests.sandbox_fixtures"]

# tests/chassis and tests/extracted/<dir> are their own pytest sessions with own settings (`make test`).
collect_ignore_glob = ["extracted/*", "chassis/*"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def customer(db):
    return UserFactory(role=Role.CUSTOMER)


@pytest.fixture
def staff_user(db):
    return UserFactory(role=Role.STAFF)


@pytest.fixture
def admin_user(db):
    return UserFactory(role=Role.ADMIN)


@pytest.fixture
def client_for(api_client):
    """Build an API client authenticated as a given user (DRF's force_authenticate)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make
