"""Reads of accounts by public id (legacy_user_id: the id clients know from the monolith)."""

from __future__ import annotations

from django.db.models import QuerySet

from contracts.errors import NotFoundError

from ..models import User
from ..rbac import role_permission_codes


def user_list() -> QuerySet[User]:
    """Every user with a public id, by public id (the monolith's order)."""
    return User.objects.filter(legacy_user_id__isnull=False).order_by("legacy_user_id")


def user_get(*, user_id: int) -> User:
    user = User.objects.filter(legacy_user_id=user_id).first()
    if user is None:
        raise NotFoundError("user", user_id)
    return user


def user_permission_codes(*, user: User) -> list[str]:
    """The monolith's answer for this user: nothing when inactive, else the role's permissions."""
    return role_permission_codes(user.role) if user.is_active else []
