"""What the read commands share: per-route noise thresholds (rules file, CLI overrides) and the evidence
of the routes asked for (`--since` is parsed by contracts.cli.parse_since, as for every command)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shadow.errors import ShadowError
from shadow.rules import NoiseThresholds, Rules
from shadow.selectors import RouteEvidence, route_evidence, route_names


def thresholds_for(
    rules: Rules, route: str, *, relative: float | None = None, absolute: float | None = None
) -> NoiseThresholds:
    thresholds = rules.for_route(route).noise
    if relative is not None:
        thresholds = replace(thresholds, relative=relative)
    if absolute is not None:
        thresholds = replace(thresholds, absolute=absolute)
    return thresholds


def check_threshold(name: str, value: float | None) -> None:
    if value is not None and not 0 <= value <= 100:
        raise ShadowError("bad_argument", f"--{name} must be a percentage from 0 to 100, got {value}")


def evidence_for_routes(
    rules: Rules,
    *,
    route: str | None = None,
    since: datetime | None = None,
    relative: float | None = None,
    absolute: float | None = None,
) -> list[RouteEvidence]:
    check_threshold("relative", relative)
    check_threshold("absolute", absolute)
    names = route_names(route=route)
    if route is not None and not names:
        known = route_names()
        raise ShadowError(
            "route_not_found",
            f"no shadow pairs were ever stored for route {route!r} (routes with pairs: "
            f"{', '.join(known) or 'none yet'})",
            {"route": route, "known": known},
        )
    found = []
    for name in names:
        evidence = route_evidence(
            name, thresholds=thresholds_for(rules, name, relative=relative, absolute=absolute), since=since
        )
        if evidence is not None:
            found.append(evidence)
    return found
