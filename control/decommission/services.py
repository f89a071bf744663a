"""Retiring the monolith route by route: the evidence (`status`), the change list (`plan`), the change
(`apply`), the point of no return (`finalize`) and the way back (`restore`).

A route's monolith side is retired when it is proven unused: the gateway sent it nothing over the whole
window (fallbacks included), the monolith itself answered none of its entries, its sync's last verify
was clean, and nothing in the monolith still depends on what goes. Routes of one app share its tables;
the app's LAST live route carries them: its apply also retires the app's entries no route moves (the
internal ones services call directly, the ones the gateway's default sends to the monolith), stops the
app's sync jobs and archives its tables; for that route the dependants are checked: foreign keys from
apps still in use, and code of other apps that imports it while their entries still get requests.

At about 500 lines this module is past the project's 450: it holds two halves that share the Decommission
records and the RouteStatus/Change types, the evidence (SyncState … statuses) and the changes made on it
(apply, finalize, restore, plan). That is the seam to split along (an `evidence` module beside this one)
once either half grows."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from control.decommission import archive, inventory, traffic
from control.decommission.retired import RETIRED
from control.decommission.route_table import restore_legacy, retire_legacy
from control.durations import show_duration
from control.errors import ControlError
from control.models import Decommission
from control.routes_file import RouteInfo, load_route_infos, routes_path
from migrations_data.engine.checkpoint import sync_resume, sync_stop, sync_stopped, verify_last

CONTROL = "control"


class NotDecommissionable(ControlError):
    """The evidence says no (exit 1): one line per reason."""

    exit_code = 1

    def __init__(self, route: str, reasons: list[str]) -> None:
        counted = f"{len(reasons)} reason" + ("" if len(reasons) == 1 else "s")
        super().__init__(
            "not_decommissionable",
            f"route {route} is not decommissionable ({counted}):",
            {"route": route, "reasons": reasons},
        )
        self.detail_lines = reasons


@dataclass
class SyncState:
    entity: str
    last_verify_at: str | None
    clean: bool
    differences: int | None
    stopped: str | None

    def problem(self) -> str | None:
        if self.last_verify_at is None:
            return f"`sync {self.entity} verify` never ran"
        if not self.clean:
            return f"the last `sync {self.entity} verify` found {self.differences} differences"
        return None


@dataclass
class Dependant:
    kind: str  # relation | entry | reader
    what: str
    detail: str
    blocking: bool

    def line(self) -> str:
        return f"{self.kind}: {self.what}: {self.detail}"


@dataclass
class RouteStatus:
    route: str
    state: str  # live | applied | finalized | not_movable
    legacy: str | None
    target: str | None
    window_seconds: float
    monolith_requests: int | None = None  # through the gateway, fallbacks included
    direct_requests: int | None = None  # answered by the monolith for the route's entries (any caller)
    total_requests: int | None = None
    share: float | None = None
    observed_seconds: float = 0.0
    apps: list[str] = field(default_factory=list)
    carries: list[str] = field(default_factory=list)  # the apps whose tables this route's apply archives
    kept_by: dict[str, list[str]] = field(default_factory=dict)  # app -> live routes that keep its tables
    entries: list[dict] = field(default_factory=list)  # answered 410 after apply
    tables: list[str] = field(default_factory=list)
    sync: list[SyncState] = field(default_factory=list)
    dependants: list[Dependant] = field(default_factory=list)
    readers: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def decommissionable(self) -> bool:
        return self.state == "live" and not self.reasons

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["decommissionable"] = self.decommissionable
        return data


@dataclass
class Change:
    """What `apply`, `finalize` or `restore` did (or, dry run, would do)."""

    route: str
    action: str
    dry_run: bool
    done: bool  # False: nothing to do (already in that state)
    steps: list[str] = field(default_factory=list)
    archive: str | None = None
    sha256: str | None = None
    status: RouteStatus | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.as_dict() if self.status else None
        return data


# --- reading the evidence ---------------------------------------------------------------------------------


def _retired_records() -> dict[str, Decommission]:
    return {d.route: d for d in Decommission.objects.filter(state__in=Decommission.RETIRED)}


def _movable(route: RouteInfo) -> bool:
    return route.mode == "route" and route.target is not None


def _sync_state(entity: str) -> SyncState:
    last = verify_last(entity)
    return SyncState(
        entity=entity,
        last_verify_at=last["at"].isoformat() if last else None,
        clean=bool(last and last["clean"]),
        differences=last["differences"] if last else None,
        stopped=sync_stopped(entity),
    )


@dataclass
class Evidence:
    """Everything the statuses are computed from, read once."""

    window_seconds: float
    routes: dict[str, RouteInfo]
    inventory: inventory.Inventory
    retired: dict[str, Decommission]
    gateway: traffic.Window
    monolith: traffic.Window

    @property
    def retired_apps(self) -> set[str]:
        return {app for record in self.retired.values() for app in record.apps}

    def live_routes_of(self, app: str) -> list[str]:
        return [
            r
            for r in self.inventory.routes_of_app(app)
            if r not in self.retired
            and r in self.routes
            and _movable(self.routes[r])
            and self.routes[r].legacy is not None
        ]

    def monolith_count(self, view: str, methods) -> int:
        return sum(self.monolith.counts.get(traffic.entry_key(m, view), 0) for m in methods)

    def app_requests(self, app: str) -> int:
        return sum(self.monolith_count(o.entry.view, o.methods) for o in self.inventory.of_app(app))


def gather(*, window_seconds: float, sample: bool = True, now: datetime | None = None) -> Evidence:
    now = now or timezone.now()
    if sample:
        traffic.take_samples(now=now)
    routes = load_route_infos()
    return Evidence(
        window_seconds=window_seconds,
        routes=routes,
        inventory=inventory.build_inventory(routes),
        retired=_retired_records(),
        gateway=traffic.load_window(traffic.GATEWAY, seconds=window_seconds, now=now),
        monolith=traffic.load_window(traffic.MONOLITH, seconds=window_seconds, now=now),
    )


def route_status(evidence: Evidence, route_id: str) -> RouteStatus:
    if route_id not in evidence.routes:
        raise ControlError("unknown_route", f"no route {route_id!r} in the route table {routes_path()}")
    route = evidence.routes[route_id]
    record = evidence.retired.get(route_id)
    owned = evidence.inventory.of_route(route_id)
    if record is not None:
        state = str(record.state)
    elif not _movable(route) or route.legacy is None or not owned:
        state = "not_movable"
    else:
        state = "live"
    status = RouteStatus(
        route=route_id,
        state=state,
        legacy=record.legacy if record else route.legacy,
        target=route.target,
        window_seconds=evidence.window_seconds,
        apps=sorted({o.entry.app for o in owned}),
    )
    if record is not None:
        status.entries, status.tables = list(record.entries), list(record.tables)
        status.sync = [_sync_state(e) for e in record.sync_entities]
        return status
    if state == "not_movable":
        if not owned:
            status.reasons.append("no monolith URLconf entry reaches the monolith through this route")
        elif route.mode != "route" or route.target is None:
            status.reasons.append(
                f"a {route.mode} route without a target to move to: the monolith answers it"
            )
        return status

    legacy = route.legacy or ""
    counts = evidence.gateway.counts
    status.monolith_requests = counts.get(traffic.gateway_key(route_id, legacy), 0)
    status.total_requests = sum(n for k, n in counts.items() if k.split(" ", 1)[0] == route_id)
    status.share = (
        round(status.monolith_requests / status.total_requests, 4) if status.total_requests else 0.0
    )
    status.direct_requests = sum(evidence.monolith_count(o.entry.view, o.methods) for o in owned)
    status.observed_seconds = min(evidence.gateway.observed_seconds, evidence.monolith.observed_seconds)
    status.entries = [o.as_dict() for o in owned]

    for app in status.apps:
        others = [r for r in evidence.live_routes_of(app) if r != route_id]
        if others:
            status.kept_by[app] = others
        else:
            status.carries.append(app)
    entities: list[str] = []
    for app in status.apps:
        entities += [e for e in inventory.sync_readers(app) if e not in entities]
    status.sync = [_sync_state(e) for e in entities]
    for app in status.carries:
        _carried(evidence, status, app)

    window = show_duration(evidence.window_seconds)
    if not (evidence.gateway.proven and evidence.monolith.proven):
        status.reasons.append(
            f"the figures cover {show_duration(status.observed_seconds)} of the {window} window"
            + (" (a restart since)" if evidence.gateway.restarts or evidence.monolith.restarts else "")
            + ": sample again later (`decommission status --interval 60`)"
        )
    if status.monolith_requests:
        status.reasons.append(
            f"{status.monolith_requests} of {status.total_requests} requests went to the monolith "
            f"in the last {window}"
        )
    if status.direct_requests:
        status.reasons.append(
            f"the monolith answered {status.direct_requests} requests of its entries in {window}"
        )
    status.reasons += [p for p in (s.problem() for s in status.sync) if p]
    status.reasons += [d.line() for d in status.dependants if d.blocking]
    return status


def _carried(evidence: Evidence, status: RouteStatus, app: str) -> None:
    """The route is `app`'s last live route: its tables, its other entries and their dependants."""
    status.tables += archive_tables(app)
    route_entries = {(e["view"], tuple(e["methods"])) for e in status.entries}
    for owned in evidence.inventory.of_app(app):
        if owned.route == status.route or (owned.entry.view, owned.methods) in route_entries:
            continue
        if owned.route in evidence.retired:
            continue
        count = evidence.monolith_count(owned.entry.view, owned.methods)
        how = (
            "called directly by services (not through the gateway)"
            if owned.entry.internal
            else f"reached through route {owned.route}"
            if owned.route
            else "no route moves it (the gateway's default)"
        )
        status.entries.append(owned.as_dict())
        status.dependants.append(
            Dependant(
                "entry",
                f"{'/'.join(owned.methods)} {owned.entry.view} ({owned.entry.pattern})",
                f"{how}; {count} requests in the window" if count else f"{how}; no request in the window",
                blocking=count > 0,
            )
        )
    retired_apps = evidence.retired_apps
    for relation in inventory.relations_into(app):
        if relation.app in retired_apps:
            continue
        status.dependants.append(
            Dependant("relation", relation.line(), f"{relation.app}'s tables are still in use", blocking=True)
        )
    for reader in inventory.readers_of(app):
        status.readers.append(reader.as_dict())
        if reader.kind != "app" or reader.name in retired_apps:
            continue
        requests = evidence.app_requests(reader.name)
        status.dependants.append(
            Dependant(
                "reader",
                f"{reader.name} ({', '.join(reader.modules)})",
                f"its entries were answered {requests} times in the window"
                if requests
                else "its entries got no request in the window",
                blocking=requests > 0,
            )
        )


def archive_tables(app: str) -> list[str]:
    return inventory.app_tables(app)


def statuses(evidence: Evidence) -> list[RouteStatus]:
    """Every route that reaches a monolith entry, or was decommissioned, in the table's order."""
    wanted = [
        r
        for r in evidence.routes
        if r in evidence.retired or (evidence.inventory.of_route(r) and evidence.routes[r].legacy is not None)
    ]
    return [route_status(evidence, r) for r in wanted]


# --- changing things --------------------------------------------------------------------------------------


def _archive_path(route: str, now: datetime) -> Path:
    return archive.archive_dir() / f"{route}-{now:%Y%m%dT%H%M%SZ}.dump"


def apply(*, route: str, window_seconds: float, dry_run: bool = False, actor: str = "") -> Change:
    """Retire `route`'s monolith side. Idempotent: on an applied route it only makes sure every step
    holds (endpoints, sync stop flags, route table) and archives nothing again."""
    record = Decommission.objects.filter(route=route, state__in=Decommission.RETIRED).first()
    if record is not None:
        return _ensure_applied(record, dry_run=dry_run)
    now = timezone.now()
    evidence = gather(window_seconds=window_seconds, now=now)
    status = route_status(evidence, route)
    if not status.decommissionable:
        raise NotDecommissionable(route, status.reasons or [f"the route is {status.state}"])
    tables = archive.existing_tables(status.tables)
    entities = [s.entity for s in status.sync] if status.carries else []
    change = Change(route=route, action="apply", dry_run=dry_run, done=True, status=status)
    path = _archive_path(route, now) if tables else None
    change.steps = _apply_steps(route, status, tables, entities, path)
    if dry_run:
        change.archive = str(path) if path else None
        return change
    digest = ""
    if tables:
        made = archive.dump_tables(tables, path)
        change.archive, change.sha256, digest = str(made.path), made.sha256, made.sha256
    record = Decommission.objects.create(
        route=route,
        legacy=status.legacy or "",
        entries=status.entries,
        apps=status.carries,
        tables=tables,
        sync_entities=entities,
        archive_path=str(path) if path else "",
        archive_sha256=digest,
        evidence=status.as_dict(),
        actor=actor,
    )
    _ensure_applied(record, dry_run=False)
    return change


def _apply_steps(route, status, tables, entities, path) -> list[str]:
    steps = [
        f"route table {routes_path()}: {route}.legacy {status.legacy} -> null (the gateway's next start)"
    ]
    steps += [f"410 Gone: {'/'.join(e['methods'])} {e['path']} ({e['view']})" for e in status.entries]
    steps += [f"stop the {e} sync jobs" for e in entities]
    if tables:
        steps.append(f"archive {len(tables)} tables to {path} (+ .sha256): {', '.join(tables)}")
    for app, routes in status.kept_by.items():
        steps.append(f"{app}'s tables stay: still used by {', '.join(routes)}")
    return steps


def _ensure_applied(record: Decommission, *, dry_run: bool) -> Change:
    change = Change(route=record.route, action="apply", dry_run=dry_run, done=False)
    change.archive, change.sha256 = record.archive_path or None, record.archive_sha256 or None
    if not dry_run:
        for entity in record.sync_entities:
            sync_stop(entity=entity, reason=f"route {record.route} decommissioned")
        replaced = retire_legacy(record.route)
        if replaced is not None and not record.route_lines:
            record.route_lines = replaced
            record.save(update_fields=["route_lines"])
        RETIRED.forget()
    change.steps = [f"already {record.state} at {record.applied_at:%Y-%m-%d %H:%M:%S}Z: every step holds"]
    return change


def _record(route: str) -> Decommission | None:
    return Decommission.objects.filter(route=route, state__in=Decommission.RETIRED).first()


def finalize(*, route: str, dry_run: bool = False) -> Change:
    """Drop the archived tables, after checking the archive against its checksum. Idempotent."""
    record = _record(route)
    if record is None:
        raise ControlError(
            "not_applied", f"route {route} is not decommissioned: `decommission apply {route}` first"
        )
    change = Change(route=route, action="finalize", dry_run=dry_run, done=record.state == "applied")
    change.archive, change.sha256 = record.archive_path or None, record.archive_sha256 or None
    if record.state == Decommission.State.FINALIZED:
        change.steps = [f"already finalized at {record.finalized_at:%Y-%m-%d %H:%M:%S}Z"]
        return change
    if record.tables:
        archive.check_archive(Path(record.archive_path), record.archive_sha256)
        change.steps.append(f"archive {record.archive_path}: sha256 {record.archive_sha256} checked")
        change.steps.append(f"drop {len(record.tables)} tables: {', '.join(record.tables)}")
    else:
        change.steps.append("no table to drop (the app's tables stay with its other routes)")
    if dry_run:
        return change
    with transaction.atomic(using=CONTROL):
        locked = Decommission.objects.select_for_update().get(pk=record.pk)
        if locked.state != Decommission.State.APPLIED:
            change.done = False
            return change
        if locked.tables:
            archive.drop_tables(list(locked.tables))
        locked.state, locked.finalized_at = Decommission.State.FINALIZED, timezone.now()
        locked.save(update_fields=["state", "finalized_at"])
    return change


def restore(*, route: str, dry_run: bool = False) -> Change:
    """Roll a decommission back: the tables from the archive (checked first), the sync jobs, the endpoints,
    the route's legacy side. After finalize too: the archive holds what the tables held. Idempotent."""
    record = _record(route)
    change = Change(route=route, action="restore", dry_run=dry_run, done=record is not None)
    if record is None:
        change.steps = [f"route {route} is not decommissioned: nothing to restore"]
        return change
    change.archive, change.sha256 = record.archive_path or None, record.archive_sha256 or None
    if record.tables:
        archive.check_archive(Path(record.archive_path), record.archive_sha256)
        change.steps.append(f"archive {record.archive_path}: sha256 {record.archive_sha256} checked")
        change.steps.append(f"pg_restore {len(record.tables)} tables: {', '.join(record.tables)}")
    change.steps += [f"resume the {e} sync jobs" for e in record.sync_entities]
    change.steps.append(f"serve again: {', '.join(e['view'] for e in record.entries)}")
    change.steps.append(f"route table {routes_path()}: {route}.legacy null -> {record.legacy}")
    if dry_run:
        return change
    if record.tables:
        archive.restore_tables(Path(record.archive_path))
    for entity in record.sync_entities:
        sync_resume(entity=entity)
    Decommission.objects.filter(pk=record.pk).update(
        state=Decommission.State.RESTORED, restored_at=timezone.now()
    )
    RETIRED.forget()
    if record.legacy:
        restore_legacy(route, record.route_lines or {}, record.legacy)
    return change


def plan(*, route: str, window_seconds: float) -> Change:
    """What `apply` would change, with the evidence; raises nothing for a route that is not ready (the
    caller decides what a `not decommissionable` status means)."""
    record = _record(route)
    if record is not None:
        return _ensure_applied(record, dry_run=True)
    status = route_status(gather(window_seconds=window_seconds), route)
    tables = archive.existing_tables(status.tables) if status.tables else []
    entities = [s.entity for s in status.sync] if status.carries else []
    path = _archive_path(route, timezone.now()) if tables else None
    change = Change(route=route, action="plan", dry_run=True, done=status.decommissionable, status=status)
    change.steps = _apply_steps(route, status, tables, entities, path)
    change.archive = str(path) if path else None
    return change


def default_window() -> str:
    return os.environ.get("DECOMMISSION_WINDOW") or "7d"
