"""Monolith user rows (`.values(*USER_ROW_FIELDS)`) -> user documents (contracts.user).

The role is the monolith's `role` (its one Group mirrors it); the password is the monolith's Django hash
string, carried as it is (PBKDF2): the auth service checks it at the user's first login there and
upgrades it to Argon2id."""

from __future__ import annotations

from contracts.user import render_timestamp, version_of

USER_ROW_FIELDS = (
    "id",
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "is_active",
    "date_joined",
    "password",
    "updated_at",
)


def user_row_to_document(row: dict) -> dict:
    return {
        "id": row["id"],
        "username": row["username"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "role": row["role"],
        "is_active": row["is_active"],
        "date_joined": render_timestamp(row["date_joined"]),
        "password": row["password"],
        "version": version_of(row["updated_at"]),
    }
