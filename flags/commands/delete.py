"""`flags delete NAME`: remove a flag nobody uses, audited.

Refused (exit 2) while the flag is on (switch it off first), while a route of the route table names it
(the gateway would refuse to start), or when the project ships it (flags/bootstrap/features.json: the
code or the shipped routes read it). The check and the removal happen under the store's lock.
"""

from pathlib import Path

from contracts.route_table import route_entries, routes_path
from flags.audit import AuditLog
from flags.commands.results import ChangeResult, audit_changes
from flags.errors import FlagsError
from flags.features import FlagState, parse_features
from flags.store import Change, FlagStore


def shipped_flags(bootstrap_file: Path) -> set[str]:
    try:
        text = Path(bootstrap_file).read_text(encoding="utf-8")
    except OSError:
        return set()
    return {feature["name"] for feature in parse_features(text, str(bootstrap_file))["features"]}


def flag_delete(
    store: FlagStore,
    audit: AuditLog,
    *,
    name: str,
    actor: str,
    bootstrap_file: Path,
    routes_file: Path | None = None,
) -> ChangeResult:
    table = routes_file or routes_path()
    users = sorted(route.id for route in route_entries(table).values() if route.flag == name)

    def check_unused(state: FlagState) -> None:
        if state.enabled:
            raise FlagsError(
                "flag_in_use", f"flag {name!r} is on ({state.summary()}): `flags off {name}` first"
            )
        if users:
            raise FlagsError(
                "flag_in_use",
                f"flag {name!r} switches route {', '.join(users)} in {table}: remove the route first",
            )
        if name in shipped_flags(bootstrap_file):
            raise FlagsError(
                "flag_in_use",
                f"flag {name!r} ships with the project ({bootstrap_file}): the code or its routes read it",
            )

    state = store.delete_flag(name, check_unused)
    change = Change(name, state, None)
    entries = audit_changes(audit, actor, "delete", [change])
    return ChangeResult(action="delete", location=store.location, changes=[change], audit_entries=entries)
