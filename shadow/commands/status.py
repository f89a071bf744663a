"""`shadow status`: per route the samples, the match rate, the age of the last pair; and the queue backlog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from shadow.backlog import Backlog, queue_backlog
from shadow.commands.common import evidence_for_routes
from shadow.models import DeadLetter
from shadow.rules import Rules


@dataclass(frozen=True)
class RouteStatus:
    route: str
    samples: int
    skipped: int
    match_rate: float
    raw_match_rate: float
    real_paths: tuple[str, ...]
    last_pair_at: datetime | None
    last_pair_age_s: float | None

    def to_dict(self) -> dict:
        return {
            "route": self.route,
            "samples": self.samples,
            "skipped": self.skipped,
            "match_rate": round(self.match_rate, 4),
            "raw_match_rate": round(self.raw_match_rate, 4),
            "real_paths": list(self.real_paths),
            "last_pair_at": self.last_pair_at.isoformat() if self.last_pair_at else None,
            "last_pair_age_s": None if self.last_pair_age_s is None else round(self.last_pair_age_s, 1),
        }


@dataclass(frozen=True)
class StatusResult:
    routes: list[RouteStatus]
    backlog: Backlog
    dead_letters: int

    def to_dict(self) -> dict:
        return {
            "routes": [r.to_dict() for r in self.routes],
            "backlog": self.backlog.to_dict(),
            "dead_letters": self.dead_letters,
        }


def shadow_status(*, rules: Rules, queue_url: str, route: str | None = None) -> StatusResult:
    now = timezone.now()
    routes = [
        RouteStatus(
            route=evidence.route,
            samples=evidence.samples,
            skipped=evidence.skipped,
            match_rate=evidence.match_rate,
            raw_match_rate=evidence.raw_match_rate,
            real_paths=tuple(sorted(evidence.real_paths)),
            last_pair_at=evidence.last_at,
            last_pair_age_s=(now - evidence.last_at).total_seconds() if evidence.last_at else None,
        )
        for evidence in evidence_for_routes(rules, route=route)
    ]
    backlog = queue_backlog(queue_url)
    return StatusResult(routes=routes, backlog=backlog, dead_letters=DeadLetter.objects.count())
