"""`shadow report`: per route the match rate over time, the top differing field paths with their noise
share, and example pairs side by side (rendered as JSON, a table, or one self-contained HTML file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from shadow.commands.common import evidence_for_routes
from shadow.rules import Rules
from shadow.selectors import Bucket, RouteEvidence, examples, match_rate_buckets

DEFAULT_TOP = 10


@dataclass(frozen=True)
class RouteReport:
    evidence: RouteEvidence
    bucket: str
    buckets: list[Bucket]
    top_paths: list  # PathVerdict, most raw differences first
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        data = self.evidence.to_dict()
        data["paths"] = [v.to_dict() for v in self.top_paths]
        data["bucket"] = self.bucket
        data["over_time"] = [b.to_dict() for b in self.buckets]
        data["examples"] = self.examples
        return data


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    since: datetime | None
    route: str | None
    routes: list[RouteReport]

    def to_dict(self) -> dict:
        return {
            "generated_at": self.generated_at.isoformat(),
            "since": self.since.isoformat() if self.since else None,
            "route": self.route,
            "routes": [r.to_dict() for r in self.routes],
        }


def build_report(
    *,
    rules: Rules,
    route: str | None = None,
    since: datetime | None = None,
    relative: float | None = None,
    absolute: float | None = None,
    top: int = DEFAULT_TOP,
    examples_per_path: int = 2,
) -> Report:
    reports = []
    found = evidence_for_routes(rules, route=route, since=since, relative=relative, absolute=absolute)
    for evidence in found:
        bucket, buckets = match_rate_buckets(evidence, since=since)
        top_paths = list(evidence.verdicts[:top])
        shown = [v.path for v in sorted(top_paths, key=lambda v: not v.real) if v.raw]  # real ones first
        reports.append(
            RouteReport(
                evidence=evidence,
                bucket=bucket,
                buckets=buckets,
                top_paths=top_paths,
                examples=examples(evidence.route, shown, per_path=examples_per_path, since=since),
            )
        )
    return Report(generated_at=timezone.now(), since=since, route=route, routes=reports)
