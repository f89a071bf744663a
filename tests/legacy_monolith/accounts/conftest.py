"""Fixtures for the accounts tests: URLs, session logins and clients holding a legacy API token."""

import re

import pytest
from rest_framework.test import APIClient

from legacy_monolith.accounts import services
from tests.factories import DEFAULT_PASSWORD

BASE = "/api/v1/accounts"


def url(path: str) -> str:
    return f"{BASE}/{path}"


def session_login(client: APIClient, username: str, password: str = DEFAULT_PASSWORD):
    """POST /login on this client; its cookie jar then holds the session and the CSRF cookie."""
    return client.post(url("login"), {"username": username, "password": password}, format="json")


def reset_token_from(message) -> str:
    """The token printed on its own indented line of the reset email."""
    match = re.search(r"^ {4}(\S+)$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def csrf_client() -> APIClient:
    """A client that, like a browser, gets no CSRF exemption."""
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def token_client():
    """Build a client authenticated with a freshly minted legacy token of `user`; the token is on
    `client.issued`."""

    def make(user, *, name: str = "default") -> APIClient:
        issued = services.api_token_create(user=user, name=name)
        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Token {issued.key}")
        client.issued = issued
        return client

    return make
