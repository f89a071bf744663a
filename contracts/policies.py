"""ABAC: decisions as plain functions over subject, action and resource attributes.

RBAC answers "may a staff member unlock accounts at all"; a policy answers "this one, now": staff may
unlock customer accounts but not staff or admin ones; staff may refund only up to a limit. Each policy
returns a Decision with a reason; `policy_enforce` turns a denial into 403 `policy_denied`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contracts.errors import ApplicationError
from contracts.roles import Role


@dataclass(frozen=True)
class Subject:
    id: str
    roles: tuple[str, ...]
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Resource:
    type: str
    id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


ALLOW = Decision(True, "allowed")
STAFF_REFUND_LIMIT = Decimal("500.00")


def account_unlock(subject: Subject, resource: Resource) -> Decision:
    """Admins unlock anyone; staff only customers (never a peer or an admin); nobody else."""
    if Role.ADMIN in subject.roles:
        return ALLOW
    if Role.STAFF in subject.roles:
        if resource.attributes.get("role") == Role.CUSTOMER:
            return ALLOW
        return Decision(False, "staff may unlock customer accounts only")
    return Decision(False, "only staff and admins unlock accounts")


def payment_refund(subject: Subject, resource: Resource) -> Decision:
    """Admins refund any amount; staff up to their limit (attribute `refund_limit`, else 500.00; an
    explicit None: no limit for this subject, what the monolith did before the limit was configured)."""
    if Role.ADMIN in subject.roles:
        return ALLOW
    if Role.STAFF in subject.roles:
        limit = subject.attributes.get("refund_limit", STAFF_REFUND_LIMIT)
        if limit is None:
            return ALLOW
        limit = Decimal(str(limit))
        if Decimal(str(resource.attributes["amount"])) <= limit:
            return ALLOW
        return Decision(False, f"staff may refund at most {limit}")
    return Decision(False, "only staff and admins refund")


POLICIES: dict[str, Callable[[Subject, Resource], Decision]] = {
    "account.unlock": account_unlock,
    "payment.refund": payment_refund,
}


def policy_decide(*, subject: Subject, action: str, resource: Resource) -> Decision:
    policy = POLICIES.get(action)
    if policy is None:  # deny by default: an action without a policy is a mistake, not a permission
        return Decision(False, f"no policy for {action}")
    return policy(subject, resource)


def policy_enforce(*, subject: Subject, action: str, resource: Resource) -> None:
    decision = policy_decide(subject=subject, action=action, resource=resource)
    if not decision.allowed:
        raise ApplicationError(
            "policy_denied", decision.reason, extra={"action": action, "resource": resource.type}, status=403
        )
