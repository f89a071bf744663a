"""The users entity spec: monolith user rows -> user documents (acl_adapters.accounts) -> the auth
service's POST /internal/v1/import/users."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model

from acl_adapters.accounts.translate import USER_ROW_FIELDS, user_row_to_document
from contracts.user import validate_user
from migrations_data.engine import EntitySpec, ImportResult, keyset_spec
from migrations_data.engine.http import InternalApiClient

IMPORT_USERS = "/internal/v1/import/users"


def auth_client(**options) -> InternalApiClient:
    """The auth service's internal API (AUTH_SERVICE_URL, bearer INTERNAL_API_TOKEN)."""
    return InternalApiClient(settings.AUTH_SERVICE_URL, settings.INTERNAL_API_TOKEN, **options)


def send_users(client: InternalApiClient, documents: list[dict]) -> ImportResult:
    answer = client.post(IMPORT_USERS, {"users": documents})
    return ImportResult(applied=int(answer.get("applied", 0)), stale=int(answer.get("stale", 0)))


def user_spec(client: InternalApiClient) -> EntitySpec:
    def send(documents: list[dict], tombstones: list[dict]) -> ImportResult:
        if tombstones:
            raise ValueError("the auth service's user import takes no deletions (users are deactivated)")
        return send_users(client, documents)

    return keyset_spec(
        name="users",
        model=get_user_model(),
        fields=USER_ROW_FIELDS,
        translate=user_row_to_document,
        send=send,
        validate=validate_user,
    )
