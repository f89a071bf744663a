"""RBAC: the monolith's roles and their permissions (legacy_monolith/accounts/roles.py, mirrored here
because the service cannot import the monolith's models; a test keeps the two tables equal), and DRF
permission classes that read the roles claim of a verified access token."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.permissions import BasePermission

from .roles import Role

ALL_PERMISSIONS = "__all__"

_CUSTOMER = (
    "catalog.view_category",
    "catalog.view_product",
    "orders.add_cart",
    "orders.change_cart",
    "orders.view_cart",
    "orders.add_cartitem",
    "orders.change_cartitem",
    "orders.delete_cartitem",
    "orders.view_cartitem",
    "orders.add_order",
    "orders.view_order",
    "payments.view_payment",
)

_STAFF_EXTRA = (
    "accounts.view_user",
    "catalog.add_category",
    "catalog.change_category",
    "catalog.add_product",
    "catalog.change_product",
    "catalog.view_stockmovement",
    "catalog.add_stockmovement",
    "orders.change_order",
    "orders.view_orderitem",
    "orders.add_coupon",
    "orders.change_coupon",
    "orders.view_coupon",
    "orders.view_couponredemption",
    "orders.view_shippingrule",
    "payments.view_refund",
    "payments.add_refund",
    "payments.view_webhookevent",
    "payments.view_blockedbin",
    "payments.view_blockedcountry",
)

# Every permission of the monolith (its admins hold them all): Django's four default permissions of each
# of its models, by app. Mirrored for the same reason as the roles; a main-session test compares it with
# the monolith's permission table (tests/legacy_monolith/accounts/test_rbac_mirror.py).
MONOLITH_MODELS: dict[str, tuple[str, ...]] = {
    "accounts": ("accountemail", "apitoken", "passwordresettoken", "user"),
    "auth": ("group", "permission"),
    "catalog": ("category", "product", "stockmovement"),
    "chassis": ("eventsigningkey", "processedevent"),
    "contenttypes": ("contenttype",),
    # the rollout controller's tables: the control app is installed in the monolith's project (its rows
    # live in the `control` database, its permissions in the monolith's auth tables like every other app's)
    "control": ("decommission", "rollout", "rolloutevent", "trafficsample"),
    "migrations_data": ("outboxevent", "synccheckpoint"),
    "orders": ("cart", "cartitem", "coupon", "couponredemption", "order", "orderitem", "shippingrule"),
    "payments": ("authorizationvoid", "blockedbin", "blockedcountry", "payment", "refund", "webhookevent"),
    "sessions": ("session",),
    "shadow": ("deadletter", "pairresult", "pathstats", "routestats"),
}
ALL_PERMISSION_CODES: tuple[str, ...] = tuple(
    sorted(
        f"{app}.{action}_{model}"
        for app, models in MONOLITH_MODELS.items()
        for model in models
        for action in ("add", "change", "delete", "view")
    )
)

ROLE_PERMISSIONS: dict[str, tuple[str, ...] | str] = {
    Role.CUSTOMER: _CUSTOMER,
    Role.STAFF: _CUSTOMER + _STAFF_EXTRA,
    Role.ADMIN: ALL_PERMISSIONS,
}


def roles_grant(roles: Iterable[str], permission: str) -> bool:
    """Whether any of `roles` holds `permission` ("app_label.codename"); unknown roles hold nothing."""
    for role in roles:
        held = ROLE_PERMISSIONS.get(role)
        if held == ALL_PERMISSIONS or (held and permission in held):
            return True
    return False


def role_permission_codes(role: str) -> list[str]:
    """The permissions a role holds, sorted, as the monolith's user JSON lists them."""
    held = ROLE_PERMISSIONS.get(role, ())
    return list(ALL_PERMISSION_CODES) if held == ALL_PERMISSIONS else sorted(held)


def _token_roles(request) -> tuple[str, ...]:
    user = request.user
    return tuple(getattr(user, "roles", ())) if user and user.is_authenticated else ()


def require_roles(*roles: str) -> type[BasePermission]:
    """A permission class: the token's roles claim names one of `roles`."""

    class HasRole(BasePermission):
        message = f"One of the roles {', '.join(roles)} is required"

        def has_permission(self, request, view) -> bool:
            return bool(set(_token_roles(request)) & set(roles))

    return HasRole


def require_permission(permission: str) -> type[BasePermission]:
    """A permission class: one of the token's roles holds `permission` in the mirrored table."""

    class HasPermission(BasePermission):
        message = f"The permission {permission} is required"

        def has_permission(self, request, view) -> bool:
            return roles_grant(_token_roles(request), permission)

    return HasPermission
