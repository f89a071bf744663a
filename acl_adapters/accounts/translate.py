"""Monolith user rows (`.values(*USER_ROW_FIELDS)`) <-> user documents (contracts.user).

The role is the monolith's `role` (its one Group mirrors it); the password is the monolith's Django hash
string, carried as it is (PBKDF2): the auth service checks it at the user's first login there and
upgrades it to Argon2id. Back from the Auth service, `user_document_to_fields` gives the model fields a
document sets; `updated_at` becomes the document's version, so the monolith's row carries the same version
and sending it forward again is an idempotent no-op there."""

from __future__ import annotations

from datetime import datetime

from contracts.user import render_timestamp, timestamp_of, version_of

USER_ROW_FIELDS = (
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "phone",
    "role",
    "is_active",
    "date_joined",
    "password",
    "origin",
    "updated_at",
)
# Fields a document sets on the monolith's row (the password apart: see migrations_data/users/receive.py)
DOCUMENT_FIELDS = ("username", "email", "first_name", "last_name", "phone", "role", "is_active", "origin")


def user_row_to_document(row: dict) -> dict:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "phone": row["phone"],
        "role": row["role"],
        "is_active": row["is_active"],
        "date_joined": render_timestamp(row["date_joined"]),
        "password": row["password"],
        "origin": row["origin"],
        "version": version_of(row["updated_at"]),
    }


def user_document_to_fields(doc: dict) -> dict:
    """The monolith row's fields a (validated) document stands for, password excluded."""
    fields = {name: doc[name] for name in DOCUMENT_FIELDS}
    fields["date_joined"] = datetime.fromisoformat(doc["date_joined"])
    fields["updated_at"] = timestamp_of(doc["version"])
    fields["is_staff"] = doc["role"] in ("staff", "admin")
    fields["is_superuser"] = doc["role"] == "admin"
    return fields
