import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from legacy_monolith.accounts.models import ApiToken
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import session_login, url


def create_token(client, username, password=DEFAULT_PASSWORD, **extra):
    return client.post(url("tokens"), {"username": username, "password": password, **extra}, format="json")


def client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.django_db
def test_a_token_is_shown_once_and_only_its_sha256_is_stored(api_client, customer, settings):
    settings.LEGACY_TOKEN_TTL_SECONDS = 600

    response = create_token(api_client, customer.username, name="ci-bot")

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"token", "expires_at", "name", "prefix"}
    key = body["token"]
    assert len(key) >= 40
    assert body["name"] == "ci-bot"
    assert body["prefix"] == key[:8]
    token = ApiToken.objects.get(user=customer)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {token.key_hash, token.key_prefix, token.name}
    expected_expiry = timezone.now() + timedelta(seconds=600)
    assert abs((parse_datetime(body["expires_at"]) - expected_expiry).total_seconds()) < 5
    assert token.expires_at == parse_datetime(body["expires_at"])


@pytest.mark.django_db
def test_a_token_authenticates_requests_as_its_user(api_client, customer):
    key = create_token(api_client, customer.username).json()["token"]

    response = client_with(key).get(url("me"))

    assert response.status_code == 200
    assert response.json()["id"] == customer.id
    assert ApiToken.objects.get(user=customer).last_used_at is not None


@pytest.mark.django_db
def test_a_token_can_be_obtained_with_the_email_and_is_named_default_when_unnamed(api_client, customer):
    response = create_token(api_client, customer.email.upper())

    assert response.status_code == 201
    assert response.json()["name"] == "default"


@pytest.mark.django_db
def test_every_token_request_mints_a_different_token(api_client, customer):
    first = create_token(api_client, customer.username).json()["token"]
    second = create_token(api_client, customer.username).json()["token"]

    assert first != second
    assert ApiToken.objects.filter(user=customer).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("username", "password"),
    [("known", "wrong-password-42"), ("nobody", DEFAULT_PASSWORD)],
    ids=["wrong-password", "unknown-user"],
)
def test_no_token_for_bad_credentials(api_client, username, password):
    UserFactory(username="known")

    response = create_token(api_client, username, password)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_no_token_for_an_inactive_user(api_client):
    user = UserFactory(is_active=False)

    response = create_token(api_client, user.username)

    assert response.status_code == 403
    assert response.json()["code"] == "account_inactive"
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_deleting_the_current_token_revokes_only_that_token(token_client, customer):
    used = token_client(customer)
    other = token_client(customer)

    response = used.delete(url("tokens/current"))

    assert response.status_code == 204
    assert ApiToken.objects.get(pk=used.issued.token.pk).revoked_at is not None
    assert used.get(url("me")).status_code == 401
    assert other.get(url("me")).status_code == 200


@pytest.mark.django_db
def test_deleting_the_current_token_needs_a_token_authenticated_request(api_client, customer):
    session_login(api_client, customer.username)

    response = api_client.delete(url("tokens/current"))

    assert response.status_code == 400
    assert response.json()["code"] == "token_required"


@pytest.mark.django_db
def test_deleting_the_current_token_without_credentials_is_401(api_client):
    response = api_client.delete(url("tokens/current"))

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def _expire(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def _revoke(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())


def _deactivate_owner(token: ApiToken) -> None:
    type(token.user).objects.filter(pk=token.user_id).update(is_active=False)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spoil", [_expire, _revoke, _deactivate_owner], ids=["expired", "revoked", "owner-inactive"]
)
def test_a_spoiled_token_is_refused_with_401(token_client, customer, spoil):
    client = token_client(customer)
    assert client.get(url("me")).status_code == 200
    spoil(client.issued.token)

    response = client.get(url("me"))

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Token not-a-real-token",
        "Token ",
        "Token two parts",
        "token " + "x" * 43,
        "Token caf\u00e9",
    ],
    ids=["garbage", "empty", "two-parts", "lowercase-keyword-unknown-key", "non-ascii"],
)
def test_a_garbage_authorization_header_is_refused_with_401(api_client, customer, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    response = api_client.get(url("me"))

    assert response.status_code == 401
    assert response.json()["code"] in {"authentication_failed", "not_authenticated"}


@pytest.mark.django_db
def test_a_stale_token_does_not_block_obtaining_a_new_one(api_client, customer):
    """Public endpoints skip authentication, so a stale token does not block logging in again."""
    api_client.credentials(HTTP_AUTHORIZATION="Token stale")

    response = create_token(api_client, customer.username)

    assert response.status_code == 201
