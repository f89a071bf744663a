"""The user document both directions of `sync users` carry (pure: no Django).

`{"id": int (the user's public id: the monolith's user id = the Auth service's legacy_user_id), "username",
"email", "first_name", "last_name", "phone", "role": "customer"|"staff"|"admin", "is_active": bool,
"date_joined": ISO 8601 UTC 'Z', "password": a Django hash string the MONOLITH can check (PBKDF2), or ""
when the sender has none to give (the receiver keeps its own), "origin": "monolith"|"auth" (the side that
created the user: its owner), "version": int}`.

Forward (monolith -> Auth service): `sync users backfill|follow` POST documents to the service's import.
Back (Auth service -> monolith): the service publishes `user.upserted` (USER_UPSERTED) with a document
through its outbox whenever a user changes there (registration, profile, password, role); the monolith's
`sync users receive` applies it to its tables. Documents applied from the other side are never sent back
(the loop stops at the receiver).

`version` is the user's change time in microseconds since the epoch (the monolith row's `updated_at`; the
Auth service stamps its own changes the same way): a write is applied only when its version is greater
than the stored one, equal is an idempotent no-op, so the latest change wins whichever side made it.

Ids: users created by the monolith have its ids; users registered at the Auth service get
`AUTH_USER_ID_OFFSET + <service row id>` (a block the monolith's sequence never reaches), so a user keeps
one id on both sides from its first answer on, and the monolith stores it as is.

Passwords: the Auth service keeps Argon2id hashes for itself and never sends one: `password` is always
the PBKDF2 hash the monolith can check (an Argon2id hash never flows back over a PBKDF2 one).

Verify digests use the product contract's canonical form over the document WITHOUT `password` and
`version`: a hash upgraded to Argon2id in the Auth service is not a difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from contracts.product import doc_digest, range_digest

ROLES = ("customer", "staff", "admin")
ORIGINS = ("monolith", "auth")
STRING_FIELDS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "role",
    "date_joined",
    "password",
    "origin",
)
FIELDS = ("id", *STRING_FIELDS, "is_active", "version")
NOT_DIGESTED = ("password", "version")
MAX_ID = 2**63 - 1
USER_UPSERTED = "user.upserted"  # the Auth service's event: data = a user document
# The Auth service's security event when an admin changes a user's role (critical, so signed: event_trust):
# data = {"id": the user's public id, "username", "role": the new role, "previous_role",
# "changed_by": the admin's public id, "version": the user's version after the change}.
USER_ROLE_CHANGED = "user.role_changed"
# Hash algorithms the monolith can check (Django's names); anything else never reaches its tables.
MONOLITH_HASHERS = ("pbkdf2_sha256", "pbkdf2_sha1")

__all__ = [
    "FIELDS",
    "MONOLITH_HASHERS",
    "ORIGINS",
    "USER_ROLE_CHANGED",
    "USER_UPSERTED",
    "hash_algorithm",
    "range_digest",
    "render_timestamp",
    "timestamp_of",
    "user_digest",
    "validate_user",
    "version_of",
]


def render_timestamp(value: datetime) -> str:
    """UTC, ISO 8601 with 'Z' (microseconds kept when there are any)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_of(updated_at: datetime) -> int:
    return int(updated_at.timestamp() * 1_000_000)


def timestamp_of(version: int) -> datetime:
    """The aware UTC datetime a version stands for (the inverse of version_of, to the microsecond)."""
    seconds, micros = divmod(version, 1_000_000)
    return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=micros)


def hash_algorithm(encoded: str) -> str:
    """The algorithm name a Django hash string starts with ("" for an empty or unusable one)."""
    if not encoded or encoded.startswith("!") or "$" not in encoded:
        return ""
    return encoded.split("$", 1)[0]


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
    if not doc["username"]:
        raise ValueError("username must not be empty")
    if doc["role"] not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if doc["origin"] not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}")
    if not isinstance(doc["is_active"], bool):
        raise ValueError("is_active must be a boolean")
    try:
        datetime.fromisoformat(doc["date_joined"])
    except ValueError:
        raise ValueError("date_joined must be an ISO 8601 timestamp") from None
    return doc
