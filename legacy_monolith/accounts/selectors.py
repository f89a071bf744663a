"""Reads of users and their permissions."""

from django.contrib.auth.models import Permission
from django.db.models import Prefetch, QuerySet

from legacy_monolith.core.errors import NotFoundError

from .models import User


def _with_permissions(queryset: QuerySet[User]) -> QuerySet[User]:
    permissions = Permission.objects.select_related("content_type")
    return queryset.prefetch_related(
        Prefetch("groups__permissions", queryset=permissions),
        Prefetch("user_permissions", queryset=permissions),
    )


def user_list() -> QuerySet[User]:
    """Every user, oldest first, with what `user_permission_codes` needs prefetched."""
    return _with_permissions(User.objects.order_by("id"))


def user_get(*, user_id: int) -> User:
    user = _with_permissions(User.objects.filter(pk=user_id)).first()
    if user is None:
        raise NotFoundError("user", user_id)
    return user


def _code(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def user_permission_codes(*, user: User) -> list[str]:
    """The user's effective permissions as Django permission strings (`catalog.add_product`), sorted.

    Same answer as `user.get_all_permissions()` with the ModelBackend, but served from the prefetches of
    `user_list`/`user_get` so listing users costs no query per user.
    """
    if not user.is_active:
        return []
    if user.is_superuser:
        return sorted(_code(p) for p in Permission.objects.select_related("content_type"))
    codes = {_code(p) for p in user.user_permissions.all()}
    for group in user.groups.all():
        codes.update(_code(p) for p in group.permissions.all())
    return sorted(codes)
