"""What the read commands share: per-route noise thresholds (rules file, CLI overrides) and `--since`."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from shadow.errors import ShadowError
from shadow.rules import NoiseThresholds, Rules
from shadow.selectors import RouteEvidence, route_evidence, route_names

_RELATIVE = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO 8601 time (UTC when it has no zone) or a duration back from now (30m, 6h, 2d, 1w)."""
    if not text:
        return None
    match = _RELATIVE.fullmatch(text.strip())
    if match:
        return (now or timezone.now()) - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ShadowError(
            "bad_argument", f"--since {text!r}: give an ISO 8601 time or a duration like 30m, 6h, 2d"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
    found = []
    for name in route_names(route=route):
        evidence = route_evidence(
            name, thresholds=thresholds_for(rules, name, relative=relative, absolute=absolute), since=since
        )
        if evidence is not None:
            found.append(evidence)
    return found
