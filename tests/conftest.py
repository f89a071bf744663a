"""Fixtures shared by the whole suite. The database is the real PostgreSQL of DATABASE_URL."""

import os
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from legacy_monolith.accounts.models import Role
from tests.factories import UserFactory

pytest_plugins = ["tests.sandbox_fixtures", "tests.lockout_fixtures"]

# Evidence gates (strangler_proxy/gates.yaml) would refuse the flag raises many tests make on fresh data: the
# suite, and the processes it starts, use a gates file that lists no route. tests/control turns gates on.
os.environ.setdefault("ROLLOUT_GATES_FILE", str(Path(__file__).parent / "control" / "gates-none.yaml"))

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
