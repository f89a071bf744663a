"""Auth service test session: settings = extracted.auth_service.settings on AUTH_DATABASE_URL (real
PostgreSQL in `make test`). Run as its own session: `pytest --ds=extracted.auth_service.settings
--confcutdir=tests/extracted/auth_service tests/extracted/auth_service`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from rest_framework.test import APIClient

from contracts.tokens import issue_access_token
from extracted.auth_service import keys
from extracted.auth_service.models import Role, User
from tests.e2e.databases import admin_connection
from tests.lockout_fixtures import isolated_lockout  # noqa: F401  (autouse)

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def browser() -> Client:
    """A plain Django client: the OAuth endpoints take form posts and answer redirects."""
    return Client()


def legacy_pbkdf2_hash(password: str) -> str:
    """A hash the way the monolith stores it (PBKDF2-SHA256; few iterations to keep the test quick)."""
    return PBKDF2PasswordHasher().encode(password, PBKDF2PasswordHasher().salt(), iterations=1000)


@pytest.fixture
def make_user(db):
    def make(*, role: str = Role.CUSTOMER, password: str = PASSWORD, legacy: bool = False, **fields) -> User:
        number = next(_numbers)
        user = User(
            username=fields.pop("username", f"user{number}"),
            email=fields.pop("email", f"user{number}@techstore.example"),
            role=role,
            legacy_user_id=fields.pop("legacy_user_id", 1000 + number),
            **fields,
        )
        if legacy:
            user.password = legacy_pbkdf2_hash(password)
        else:
            user.set_password(password)
        user.save()
        return user

    return make


@pytest.fixture
def web_client(db):
    """The first-party client the cutover login mints for (client_id AUTH_LOGIN_CLIENT_ID)."""
    from .test_oauth_flows import web_client_create

    client = web_client_create()
    client.client_id = settings.AUTH_LOGIN_CLIENT_ID
    client.save(update_fields=["client_id"])
    return client


@pytest.fixture
def bearer(db):
    """`bearer(user)` -> an Authorization header value with an access token signed by the active key."""

    def make(user: User, **overrides) -> str:
        material = keys.signing_key_active()
        token = issue_access_token(
            private_key=material.private_key,
            kid=material.kid,
            issuer=settings.AUTH_ISSUER,
            audience=settings.AUTH_AUDIENCE,
            subject=str(user.pk),
            ttl_seconds=300,
            scopes=["read"],
            roles=[user.role],
            legacy_user_id=user.legacy_user_id,
            **overrides,
        )
        return f"Bearer {token}"

    return make


@contextlib.contextmanager
def throwaway_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database <prefix>_<random> on AUTH_DATABASE_URL's server, for real processes;
    dropped afterwards (FORCE ends their sessions)."""
    base = os.environ.get("AUTH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/auth")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = admin_connection(base)
    with conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with conn.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
