"""DRF permission classes by role."""

from rest_framework.permissions import BasePermission

from .models import Role


class IsStaffRole(BasePermission):
    """Staff and admins."""

    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role in (Role.STAFF, Role.ADMIN))


class IsAdminRole(BasePermission):
    message = "Admin role required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.role == Role.ADMIN)
