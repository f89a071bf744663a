"""The evidence gates file (ROLLOUT_GATES_FILE, default strangler_proxy/gates.yaml, beside the routes):
per route, what must hold before its flag may be raised. Validated whole at start, `file:line: ...`.

    routes:
      catalog.read:
        verify: {entity: products, within: 24h}      # a clean `sync products verify` that recent
        sync_lag: {entity: products, max: 30s}       # the outbox relay's lag under this
      payments.charge:
        shadow: {min_match: 99.9, min_pairs: 5000, since: 7d}   # shadow match over enough pairs

Every route listed here also gets the gate `open_rollback`: no rollout of it rolled back and not yet
closed (`manage.py rollout close ROUTE --reason ...`). A route not listed has no gates."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from control.routes_file import RouteInfo, load_route_infos
from control.yamlfile import NodeReader, compose

REPO_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_GATES_FILE = REPO_DIR / "strangler_proxy" / "gates.yaml"
SYNC_ENTITIES = frozenset({"products", "users"})
LAG_ENTITIES = frozenset({"products"})  # the entities whose sync runs through the monolith's outbox


@dataclass(frozen=True)
class ShadowGate:
    min_match: float
    min_pairs: int
    since: float | None = None  # seconds; None: every pair compared so far


@dataclass(frozen=True)
class VerifyGate:
    entity: str
    within: float


@dataclass(frozen=True)
class SyncLagGate:
    entity: str
    max: float


@dataclass(frozen=True)
class RouteGates:
    route: str
    line: int
    shadow: ShadowGate | None = None
    verify: VerifyGate | None = None
    sync_lag: SyncLagGate | None = None


@dataclass(frozen=True)
class GatesFile:
    source: str
    routes: dict[str, RouteGates]

    def for_flag(self, flag: str, routes: dict[str, RouteInfo]) -> RouteGates | None:
        info = next((r for r in routes.values() if r.flag == flag), None)
        return self.routes.get(info.id) if info else None


def gates_path() -> Path:
    return Path(os.environ.get("ROLLOUT_GATES_FILE") or DEFAULT_GATES_FILE)


def _shadow(reader: NodeReader, node: yaml.Node, what: str) -> ShadowGate | None:
    fields = reader.mapping(node, what, frozenset({"min_match", "min_pairs", "since"}))
    for key in ("min_match", "min_pairs"):
        if key not in fields:
            reader.problem(node, f"{what}: {key} is required")
    if "min_match" not in fields or "min_pairs" not in fields:
        return None
    min_match = reader.number(fields["min_match"], f"{what}.min_match", low=0, high=100)
    min_pairs = reader.number(fields["min_pairs"], f"{what}.min_pairs", low=1, integer=True)
    since = reader.duration(fields["since"], f"{what}.since") if "since" in fields else None
    if min_match is None or min_pairs is None:
        return None
    return ShadowGate(float(min_match), int(min_pairs), since)


def _entity(reader: NodeReader, fields: dict, node: yaml.Node, what: str, allowed: frozenset[str]):
    if "entity" not in fields:
        reader.problem(node, f"{what}: entity is required ({', '.join(sorted(allowed))})")
        return None
    entity = reader.text(fields["entity"], f"{what}.entity")
    if entity is not None and entity not in allowed:
        reader.problem(
            fields["entity"], f"{what}.entity: {entity!r} is not one of {', '.join(sorted(allowed))}"
        )
        return None
    return entity


def _verify(reader: NodeReader, node: yaml.Node, what: str) -> VerifyGate | None:
    fields = reader.mapping(node, what, frozenset({"entity", "within"}))
    entity = _entity(reader, fields, node, what, SYNC_ENTITIES)
    if "within" not in fields:
        reader.problem(node, f"{what}: within is required (e.g. 24h)")
        return None
    within = reader.duration(fields["within"], f"{what}.within")
    return VerifyGate(entity, within) if entity and within else None


def _sync_lag(reader: NodeReader, node: yaml.Node, what: str) -> SyncLagGate | None:
    fields = reader.mapping(node, what, frozenset({"entity", "max"}))
    entity = _entity(reader, fields, node, what, LAG_ENTITIES)
    if "max" not in fields:
        reader.problem(node, f"{what}: max is required (e.g. 30s)")
        return None
    most = reader.duration(fields["max"], f"{what}.max")
    return SyncLagGate(entity, most) if entity and most is not None else None


def load_gates(path: Path | None = None, routes: dict[str, RouteInfo] | None = None) -> GatesFile:
    path = path or gates_path()
    routes = load_route_infos() if routes is None else routes
    reader = NodeReader(str(path))
    top = reader.mapping(compose(path), "the gates file", frozenset({"routes"}))
    found: dict[str, RouteGates] = {}
    for route_id, node in reader.mapping(top.get("routes"), "routes").items():
        what = f"routes.{route_id}"
        if route_id not in routes:
            reader.problem(node, f"{what}: not a route of the route table")
            continue
        info = routes[route_id]
        if not info.flag:
            reader.problem(node, f"{what}: the route has no flag to gate")
        fields = reader.mapping(node, what, frozenset({"shadow", "verify", "sync_lag"}))
        shadow = _shadow(reader, fields["shadow"], f"{what}.shadow") if "shadow" in fields else None
        if shadow is not None and info.mode != "shadow" and info.target is None:
            reader.problem(fields["shadow"], f"{what}.shadow: the route has no target to shadow")
        found[route_id] = RouteGates(
            route=route_id,
            line=node.start_mark.line + 1,
            shadow=shadow,
            verify=_verify(reader, fields["verify"], f"{what}.verify") if "verify" in fields else None,
            sync_lag=_sync_lag(reader, fields["sync_lag"], f"{what}.sync_lag")
            if "sync_lag" in fields
            else None,
        )
    reader.raise_if_any()
    return GatesFile(source=str(path), routes=found)
