"""Roles as Django Groups: each role is one Group of the same name holding the role's model permissions.

Model permissions say what a role may do to a kind of object; ownership (a customer sees only their own
orders) is enforced by the views. The admin role holds every permission and its users are superusers.
The 0002 data migration creates the groups; `role_group_get` recreates a missing one (e.g. after a flush).
"""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from .models import Role

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

ROLE_PERMISSIONS: dict[str, tuple[str, ...] | str] = {
    Role.CUSTOMER: _CUSTOMER,
    Role.STAFF: _CUSTOMER + _STAFF_EXTRA,
    Role.ADMIN: ALL_PERMISSIONS,
}


def role_permissions(*, role: str, permission_model=Permission):
    """The Permission rows a role's group holds; migrations pass their historical Permission model."""
    wanted = ROLE_PERMISSIONS[role]
    if wanted == ALL_PERMISSIONS:
        return permission_model.objects.all()
    condition = Q(pk__in=[])
    for code in wanted:
        app_label, codename = code.split(".", 1)
        condition |= Q(content_type__app_label=app_label, codename=codename)
    return permission_model.objects.filter(condition)


def role_group_sync(*, role: str, group_model=Group, permission_model=Permission):
    """Create or update the role's group so it holds exactly the role's permissions."""
    group, _ = group_model.objects.get_or_create(name=role)
    group.permissions.set(role_permissions(role=role, permission_model=permission_model))
    return group


def role_group_get(*, role: str) -> Group:
    """The role's group; recreated with its permissions when missing."""
    group = Group.objects.filter(name=role).first()
    return group if group is not None else role_group_sync(role=role)
