"""The auth service's end of the two-way user sync: documents from the monolith applied with the version
rule and never published back (the loop stops here); a password changed on the monolith ends the user's
sessions here; the export endpoint gives verify --repair the service's own copy."""

import pytest
from django.conf import settings
from oauth2_provider.models import RefreshToken
from rest_framework.test import APIClient

from chassis.outbox.models import OutboxEvent
from contracts.user import user_digest
from extracted.auth_service.models import User
from extracted.auth_service.user_sync import user_document

from .conftest import PASSWORD, legacy_pbkdf2_hash
from .test_accounts_login import post as login_post

pytestmark = pytest.mark.django_db
MONOLITH_HASH = legacy_pbkdf2_hash(PASSWORD)


def monolith_document(legacy_id: int, **fields) -> dict:
    return {
        "id": legacy_id,
        "username": f"user{legacy_id}",
        "email": f"user{legacy_id}@techstore.example",
        "first_name": "",
        "last_name": "",
        "phone": "",
        "role": "customer",
        "is_active": True,
        "date_joined": "2026-01-02T03:04:05Z",
        "password": MONOLITH_HASH,
        "origin": "monolith",
        "version": 1_000,
    } | fields


def internal(api_client, path, body):
    """POST to /internal/v1 with the internal token (a fresh client: no user credentials)."""
    return APIClient().post(
        f"/internal/v1/{path}",
        body,
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {settings.INTERNAL_API_TOKEN}",
    )


def test_a_document_from_the_monolith_is_applied_once_and_never_published_back(api_client):
    doc = monolith_document(7, phone="+1 555 0100")

    first = internal(api_client, "import/users", {"users": [doc]}).json()
    again = internal(api_client, "import/users", {"users": [doc]}).json()

    assert (first["applied"], again["stale"]) == (1, 1)
    user = User.objects.get(legacy_user_id=7)
    assert (user.phone, user.origin, user.version) == ("+1 555 0100", "monolith", 1_000)
    assert user_digest(user_document(user)) == user_digest(doc)
    assert not OutboxEvent.objects.exists()


def test_the_echo_of_a_change_made_here_is_stale(api_client, bearer, make_user):
    user = make_user()
    api_client.credentials(HTTP_AUTHORIZATION=bearer(user))
    api_client.patch("/api/v1/accounts/me", {"first_name": "Here"}, format="json")
    echoed = user_document(User.objects.get(pk=user.pk))  # what the monolith holds and sends back

    answer = internal(api_client, "import/users", {"users": [echoed]}).json()

    assert (answer["applied"], answer["stale"]) == (0, 1)
    assert OutboxEvent.objects.count() == 1  # the change itself, nothing more


@pytest.mark.usefixtures("web_client")
def test_a_password_changed_on_the_monolith_ends_the_user_s_sessions_here(api_client):
    internal(api_client, "import/users", {"users": [monolith_document(8)]})
    pair = login_post(api_client, "login", "user8", PASSWORD).json()

    changed = monolith_document(8, password=legacy_pbkdf2_hash("reset on the monolith"), version=2_000)
    internal(api_client, "import/users", {"users": [changed]})

    assert RefreshToken.objects.get(user__legacy_user_id=8).revoked is not None
    assert login_post(api_client, "login", "user8", PASSWORD).json()["code"] == "invalid_credentials"
    assert pair["refresh_token"]


def test_an_empty_password_keeps_the_stored_hash(api_client):
    internal(api_client, "import/users", {"users": [monolith_document(9)]})
    stored = User.objects.get(legacy_user_id=9).password

    internal(api_client, "import/users", {"users": [monolith_document(9, password="", version=2_000)]})

    assert User.objects.get(legacy_user_id=9).password == stored


def test_export_answers_the_versioned_users_asked_for(api_client, make_user):
    internal(api_client, "import/users", {"users": [monolith_document(10), monolith_document(11)]})
    make_user(legacy_user_id=12)  # never versioned (a token-exchange mirror): the monolith's copy is its

    answer = internal(api_client, "export/users", {"ids": [11, 10, 12, 13]})

    assert answer.status_code == 200, answer.content
    assert [doc["id"] for doc in answer.json()["users"]] == [10, 11]
    assert answer.json()["users"][0] == monolith_document(10)


@pytest.mark.parametrize(
    "body", [{"ids": [0]}, {"ids": "1"}, {"ids": [1], "more": 1}, {"ids": list(range(1, 1002))}]
)
def test_export_refuses_bad_input(api_client, body):
    answer = internal(api_client, "export/users", body)

    assert (answer.status_code, answer.json()["code"]) == (400, "validation_error")
