"""The user document `sync users` carries from the monolith to the auth service (pure: no Django).

`{"id": int (the monolith's user id = the auth service's legacy_user_id), "username", "email",
"first_name", "last_name", "role": "customer"|"staff"|"admin", "is_active": bool, "date_joined": ISO 8601
UTC 'Z', "password": the monolith's Django hash string (PBKDF2, carried verbatim), "version": int}`.

`version` is the monolith row's `updated_at` in microseconds since the epoch (auto_now: every save of the
user bumps it): a write is applied only when its version is greater than the stored one, equal is an
idempotent no-op. Verify digests use the product contract's canonical form over the document WITHOUT
`password` (and `version`): a hash upgraded to Argon2id in the auth service is not a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.product import doc_digest, range_digest

ROLES = ("customer", "staff", "admin")
STRING_FIELDS = ("username", "email", "first_name", "last_name", "role", "date_joined", "password")
FIELDS = ("id", *STRING_FIELDS, "is_active", "version")
NOT_DIGESTED = ("password", "version")
MAX_ID = 2**63 - 1

__all__ = ["FIELDS", "range_digest", "render_timestamp", "user_digest", "validate_user", "version_of"]


def render_timestamp(value: datetime) -> str:
    """UTC, ISO 8601 with 'Z' (microseconds kept when there are any)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_of(updated_at: datetime) -> int:
    return int(updated_at.timestamp() * 1_000_000)


def user_digest(doc: Mapping[str, Any]) -> str:
    return doc_digest({key: value for key, value in doc.items() if key not in NOT_DIGESTED})


def validate_user(doc: Any) -> dict:
    """The document if it is a valid user document; ValueError naming the first problem otherwise."""
    if not isinstance(doc, dict):
        raise ValueError("a user document must be an object")
    if set(doc) != set(FIELDS):
        raise ValueError(f"a user document has exactly the fields {', '.join(FIELDS)}")
    for name in ("id", "version"):
        value = doc[name]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
            raise ValueError(f"{name} must be a positive integer")
    for name in STRING_FIELDS:
        if not isinstance(doc[name], str):
            raise ValueError(f"{name} must be a string")
    if not doc["username"] or not doc["password"]:
        raise ValueError("username and password must not be empty")
    if doc["role"] not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(doc["is_active"], bool):
        raise ValueError("is_active must be a boolean")
    try:
        datetime.fromisoformat(doc["date_joined"])
    except ValueError:
        raise ValueError("date_joined must be an ISO 8601 timestamp") from None
    return doc
