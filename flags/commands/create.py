"""`flags create NAME [--description TEXT] [--from-route ID] [--type T]`: a new flag, off, audited.

Creating a flag that exists already changes nothing (and says so): the command can be re-run safely.
With `--from-route`, the route must exist in the route table and name this flag; its description says what
the route moves (`GET,HEAD ^/api/v1/catalog/products/[0-9]+$: legacy -> product, shadow`).
"""

from pathlib import Path

from contracts.route_table import RouteEntry, route_entries, routes_path
from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError
from flags.features import new_flag
from flags.store import FlagStore


def route_description(route: RouteEntry) -> str:
    methods = ",".join(route.methods) or "any method"
    mode = ", shadow (legacy answers, the target gets a copy)" if route.mode == "shadow" else ""
    return f"Gateway route {route.id}: {methods} {route.path}: {route.legacy} -> {route.target}{mode}"


def flag_create(
    store: FlagStore,
    audit: AuditLog,
    *,
    name: str,
    actor: str,
    description: str | None = None,
    from_route: str | None = None,
    flag_type: str = "release",
    routes_file: Path | None = None,
) -> ChangeResult:
    if from_route is not None:
        routes = route_entries(routes_file or routes_path())
        route = routes.get(from_route)
        if route is None:
            raise FlagsError(
                "route_not_found",
                f"no route {from_route!r} in {routes_file or routes_path()} (routes: {', '.join(routes)})",
            )
        if route.flag != name:
            raise FlagsError(
                "route_flag_mismatch",
                f"route {from_route!r} is switched by flag {route.flag!r}, not {name!r}",
            )
        description = description or route_description(route)
    state = new_flag(name, description=description or "", flag_type=flag_type)
    change = store.create_flag(state)
    entries = audit_changes(audit, actor, "create", [change])
    return ChangeResult(action="create", location=store.location, changes=[change], audit_entries=entries)
