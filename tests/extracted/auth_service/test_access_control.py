import ast
import base64
import json

import pytest
from django.utils import timezone

from chassis.lockout import lockout_store
from chassis.settings import BASE_DIR
from contracts.policies import Resource, Subject, policy_decide
from extracted.auth_service import rbac
from extracted.auth_service.audit import Event
from extracted.auth_service.models import AuditEntry, Role
from kernel.lockout import LockoutPolicy

from .conftest import PASSWORD


def monolith_role_tables() -> dict[str, tuple[str, ...]]:
    """The permission tuples of legacy_monolith/accounts/roles.py, read without importing the monolith."""
    tree = ast.parse((BASE_DIR / "legacy_monolith/accounts/roles.py").read_text())
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("_CUSTOMER", "_STAFF_EXTRA")
    }


def test_the_mirrored_role_permissions_equal_the_monolith_s():
    tables = monolith_role_tables()
    assert rbac.ROLE_PERMISSIONS[Role.CUSTOMER] == tables["_CUSTOMER"]
    assert rbac.ROLE_PERMISSIONS[Role.STAFF] == tables["_CUSTOMER"] + tables["_STAFF_EXTRA"]
    assert rbac.ROLE_PERMISSIONS[Role.ADMIN] == rbac.ALL_PERMISSIONS


@pytest.mark.parametrize(
    ("roles", "permission", "granted"),
    [
        (["customer"], "orders.add_order", True),
        (["customer"], "payments.add_refund", False),
        (["staff"], "payments.add_refund", True),
        (["staff"], "accounts.delete_user", False),
        (["admin"], "accounts.delete_user", True),
        (["intruder"], "catalog.view_product", False),
        ([], "catalog.view_product", False),
    ],
)
def test_roles_grant_the_monolith_s_permissions(roles, permission, granted):
    assert rbac.roles_grant(roles, permission) is granted


@pytest.mark.parametrize(
    ("roles", "action", "attributes", "allowed"),
    [
        (["admin"], "account.unlock", {"role": "staff"}, True),
        (["staff"], "account.unlock", {"role": "customer"}, True),
        (["staff"], "account.unlock", {"role": "staff"}, False),
        (["staff"], "account.unlock", {"role": "admin"}, False),
        (["customer"], "account.unlock", {"role": "customer"}, False),
        (["staff"], "payment.refund", {"amount": "499.99"}, True),
        (["staff"], "payment.refund", {"amount": "500.00"}, True),
        (["staff"], "payment.refund", {"amount": "500.01"}, False),
        (["admin"], "payment.refund", {"amount": "99999.00"}, True),
        (["customer"], "payment.refund", {"amount": "1.00"}, False),
        (["admin"], "no.such.action", {}, False),  # no policy: denied
    ],
)
def test_policies_decide_over_subject_and_resource_attributes(roles, action, attributes, allowed):
    decision = policy_decide(
        subject=Subject("1", tuple(roles)), action=action, resource=Resource("x", "1", attributes)
    )
    assert decision.allowed is allowed
    assert decision.reason


def test_a_staff_limit_attribute_overrides_the_default_refund_limit():
    subject = Subject("1", ("staff",), {"refund_limit": "50.00"})
    assert not policy_decide(
        subject=subject, action="payment.refund", resource=Resource("p", "1", {"amount": 60})
    ).allowed


def lock(user):
    """Locked for an hour in the shared lockout store, as a failed login at either side would leave it."""
    policy = LockoutPolicy.of_seconds(threshold=1, window=3600, lock_for=3600)
    assert lockout_store().record_failure(user.username, now=timezone.now(), policy=policy).locked_until


def unlock(api_client, bearer, actor, target):
    api_client.credentials(HTTP_AUTHORIZATION=bearer(actor))
    return api_client.post(f"/api/v1/auth/users/{target.pk}/unlock")


def test_staff_unlock_a_locked_customer_who_can_then_log_in(api_client, make_user, bearer):
    staff, customer = make_user(role=Role.STAFF), make_user()
    lock(customer)
    answer = unlock(api_client, bearer, staff, customer)
    assert (answer.status_code, answer.json()) == (200, {"unlocked": True})
    entry = AuditEntry.objects.get(event=Event.UNLOCK)
    assert (entry.user_id, entry.data["by"]) == (customer.pk, str(staff.pk))
    api_client.credentials()
    login = api_client.post(
        "/api/v1/auth/login", {"username": customer.username, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_the_unlock_policy_stops_staff_unlocking_a_peer(api_client, make_user, bearer):
    staff, peer = make_user(role=Role.STAFF), make_user(role=Role.STAFF)
    lock(peer)
    answer = unlock(api_client, bearer, staff, peer)
    assert (answer.status_code, answer.json()["code"]) == (403, "policy_denied")
    assert answer.json()["message"] == "staff may unlock customer accounts only"
    assert lockout_store().state(peer.username).is_locked(timezone.now())


def test_admins_unlock_staff(api_client, make_user, bearer):
    admin, staff = make_user(role=Role.ADMIN), make_user(role=Role.STAFF)
    lock(staff)
    assert unlock(api_client, bearer, admin, staff).status_code == 200


def test_rbac_keeps_customers_and_anonymous_callers_out_of_unlock(api_client, make_user, bearer):
    customer, other = make_user(), make_user()
    assert unlock(api_client, bearer, customer, other).json()["code"] == "permission_denied"
    api_client.credentials()
    answer = api_client.post(f"/api/v1/auth/users/{other.pk}/unlock")
    assert (answer.status_code, answer.json()["code"]) == (401, "not_authenticated")


def test_a_token_whose_roles_claim_was_raised_is_refused(api_client, make_user, bearer):
    customer, other = make_user(), make_user()
    header, payload, signature = bearer(customer).removeprefix("Bearer ").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{forged}.{signature}")
    answer = api_client.post(f"/api/v1/auth/users/{other.pk}/unlock")
    assert (answer.status_code, answer.json()["code"]) == (401, "invalid_signature")


def test_an_unknown_user_is_a_404(api_client, make_user, bearer):
    admin = make_user(role=Role.ADMIN)
    api_client.credentials(HTTP_AUTHORIZATION=bearer(admin))
    answer = api_client.post("/api/v1/auth/users/999999/unlock")
    assert (answer.status_code, answer.json()["code"]) == (404, "user_not_found")


def test_an_explicit_none_refund_limit_lets_staff_refund_any_amount():
    subject = Subject("1", ("staff",), {"refund_limit": None})
    resource = Resource("payment", "9", {"amount": "100000.00"})
    assert policy_decide(subject=subject, action="payment.refund", resource=resource).allowed
