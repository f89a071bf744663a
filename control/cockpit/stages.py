"""The migration's stages as the cockpit shows them: each stage's routes (route table ids), the flags a
service reads that move it too, its sync entity, its upstream and its runbooks. A stage's state follows
from its flags: not started, shadow (a shadow route's flag on), rolling out n%, done (every route at
100%)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    number: int
    name: str
    title: str
    routes: tuple[str, ...] = ()
    flags: tuple[
        str, ...
    ] = ()  # flags no route carries that move the stage (a service or the monolith reads)
    entity: str | None = None  # `sync <entity> ...`
    upstream: str | None = None
    sagas: bool = False


STAGES: tuple[Stage, ...] = (
    Stage(1, "gateway", "the gateway in front of the monolith"),
    Stage(
        2,
        "products",
        "catalog reads to the Product service",
        routes=("catalog.read",),
        flags=("monolith.catalog.read_from_service",),
        entity="products",
        upstream="product",
    ),
    Stage(
        3,
        "auth",
        "log in and accounts to the Auth service",
        routes=(
            "auth.login",
            "accounts.register",
            "accounts.profile",
            "accounts.password_reset",
            "accounts.admin",
        ),
        entity="users",
        upstream="auth",
    ),
    Stage(
        4,
        "orders",
        "orders and the checkout saga to the Order service",
        routes=("orders.read", "orders.write", "orders.checkout"),
        entity="orders",
        upstream="orders",
        sagas=True,
    ),
    Stage(
        5,
        "payments",
        "payments: shadow, then cutover to the Payment service",
        routes=("payments.charge", "payments.read"),
        flags=("route.payments.charge",),
        entity="payments",
        upstream="payments",
        sagas=True,
    ),
    Stage(
        6,
        "notifications",
        "notifications, then decommissioning the monolith",
        flags=("monolith.accounts.emails_via_service",),  # the monolith's account emails via the service
        upstream="notifications",
    ),
)


def stage_state(
    routes: dict[str, tuple[str, str | None]], percentages: dict[str, int | None], stage: Stage
) -> str:
    """`not started`, `shadow`, `rolling out N%` (or `rolling out N-M%`), `done`; `unknown` when a flag of
    the stage cannot be read. routes: route id -> (mode `route`|`shadow`, its flag); percentages: flag ->
    % (None: not readable)."""
    mine = [routes[r] for r in stage.routes if r in routes and routes[r][1]]
    moving = [percentages.get(flag) for mode, flag in mine if mode == "route"]
    moving += [percentages.get(f) for f in stage.flags if f.startswith("route.")]
    shadowing = [percentages.get(flag) for mode, flag in mine if mode == "shadow"]
    if any(p is None for p in (*moving, *shadowing)):
        return "unknown"
    if moving and all(p == 100 for p in moving):
        return "done"
    raised = [p for p in moving if p]
    if raised:
        low, high = min(moving), max(moving)
        return f"rolling out {high}%" if low == high else f"rolling out {low}-{high}%"
    if any(shadowing):
        return "shadow"
    return "not started"
