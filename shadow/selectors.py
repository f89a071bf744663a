"""Reads of the comparator's database: per-route evidence after noise cancellation, match rate over time,
and example pairs. Without `since` the running counts (RouteStats, PathStats) are used; with it the counts
are rebuilt from the pairs captured since then."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Trunc

from shadow.models import PairResult, PathStats, RouteStats
from shadow.noise import PathVerdict, classify, real_mismatches
from shadow.rules import NoiseThresholds

MAX_EXAMPLE_SCAN = 2000


@dataclass(frozen=True)
class RouteEvidence:
    route: str
    samples: int
    matched: int
    noise_samples: int
    skipped: int
    first_at: datetime | None
    last_at: datetime | None
    verdicts: tuple[PathVerdict, ...]
    real_mismatches: int
    thresholds: NoiseThresholds

    @property
    def real_paths(self) -> set[str]:
        return {v.path for v in self.verdicts if v.real}

    @property
    def raw_match_rate(self) -> float:
        """Percent of pairs with no difference at all."""
        return 100.0 * self.matched / self.samples if self.samples else 0.0

    @property
    def match_rate(self) -> float:
        """Percent of pairs with no REAL difference (differences explained by noise do not count)."""
        return 100.0 * (self.samples - self.real_mismatches) / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "samples": self.samples,
            "matched": self.matched,
            "noise_samples": self.noise_samples,
            "skipped": self.skipped,
            "raw_match_rate": round(self.raw_match_rate, 4),
            "match_rate": round(self.match_rate, 4),
            "real_mismatches": self.real_mismatches,
            "first_at": _iso(self.first_at),
            "last_at": _iso(self.last_at),
            "thresholds": {"relative": self.thresholds.relative, "absolute": self.thresholds.absolute},
            "paths": [v.to_dict() for v in self.verdicts],
        }


@dataclass(frozen=True)
class Bucket:
    start: datetime
    samples: int
    matched: int
    real_mismatches: int

    @property
    def match_rate(self) -> float:
        return 100.0 * (self.samples - self.real_mismatches) / self.samples if self.samples else 0.0

    @property
    def raw_match_rate(self) -> float:
        return 100.0 * self.matched / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "samples": self.samples,
            "matched": self.matched,
            "real_mismatches": self.real_mismatches,
            "raw_match_rate": round(self.raw_match_rate, 4),
            "match_rate": round(self.match_rate, 4),
        }


def route_names(*, route: str | None = None) -> list[str]:
    names = RouteStats.objects.order_by("route").values_list("route", flat=True)
    return [name for name in names if route is None or name == route]


def route_evidence(
    route: str, *, thresholds: NoiseThresholds, since: datetime | None = None
) -> RouteEvidence | None:
    """The route's counts and a noise verdict per differing path; None when it has no pairs (since then)."""
    if since is None:
        stats = RouteStats.objects.filter(route=route).first()
        if stats is None:
            return None
        samples, matched, noise_samples = stats.samples, stats.matched, stats.noise_samples
        skipped = stats.skipped
        first_at, last_at = stats.first_captured_at, stats.last_captured_at
        raw, noise = {}, {}
        for path, raw_count, noise_count in PathStats.objects.filter(route=route).values_list(
            "path", "raw_count", "noise_count"
        ):
            raw[path], noise[path] = raw_count, noise_count
    else:
        every = PairResult.objects.filter(route=route, captured_at__gte=since)
        rows = every.filter(skipped="")
        totals = every.aggregate(
            samples=Count("id", filter=Q(skipped="")),
            matched=Count("id", filter=Q(matched=True, skipped="")),
            noise_samples=Count("id", filter=Q(noise_checked=True, skipped="")),
            skipped=Count("id", filter=~Q(skipped="")),
            first_at=Min("captured_at"),
            last_at=Max("captured_at"),
        )
        if not totals["samples"] and not totals["skipped"]:
            return None
        samples, matched, noise_samples = totals["samples"], totals["matched"], totals["noise_samples"]
        skipped = totals["skipped"]
        first_at, last_at = totals["first_at"], totals["last_at"]
        raw = _count_paths(rows.filter(matched=False).values_list("paths", flat=True).iterator())
        noise = _count_paths(rows.filter(noisy=True).values_list("noise_paths", flat=True).iterator())
    verdicts = classify(raw, noise, samples=samples, noise_samples=noise_samples, thresholds=thresholds)
    real = {v.path for v in verdicts if v.real}
    mismatched = _mismatched(route, since).values_list("paths", flat=True).iterator()
    return RouteEvidence(
        route=route,
        samples=samples,
        matched=matched,
        noise_samples=noise_samples,
        skipped=skipped,
        first_at=first_at,
        last_at=last_at,
        verdicts=tuple(verdicts),
        real_mismatches=real_mismatches(mismatched, real) if real else 0,
        thresholds=thresholds,
    )


def match_rate_buckets(evidence: RouteEvidence, *, since: datetime | None = None) -> tuple[str, list[Bucket]]:
    """Pairs per time bucket (minute, hour or day, by the span covered) with their match rates."""
    if evidence.first_at is None or evidence.last_at is None:
        return "hour", []
    span = evidence.last_at - evidence.first_at
    kind = "minute" if span <= timedelta(hours=3) else "hour" if span <= timedelta(days=7) else "day"
    rows = PairResult.objects.filter(route=evidence.route, skipped="")
    if since is not None:
        rows = rows.filter(captured_at__gte=since)
    counted = (
        rows.annotate(bucket=Trunc("captured_at", kind))
        .values("bucket")
        .annotate(samples=Count("id"), matched=Count("id", filter=Q(matched=True)))
        .order_by("bucket")
    )
    real = evidence.real_paths
    real_by_bucket: Counter = Counter()
    if real:
        for captured_at, paths in _mismatched(evidence.route, since).values_list("captured_at", "paths"):
            if not real.isdisjoint(paths):
                real_by_bucket[_truncate(captured_at, kind)] += 1
    buckets = [Bucket(row["bucket"], row["samples"], row["matched"], 0) for row in counted]
    return kind, [replace(b, real_mismatches=real_by_bucket[b.start]) for b in buckets]


def examples(
    route: str, paths: Iterable[str], *, per_path: int = 2, since: datetime | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Recent pairs whose candidate differed at each path, newest first:
    {path: [{pair_id, trace_id, captured_at, paths, differences, example}]}."""
    wanted: dict[str, list[dict[str, Any]]] = {path: [] for path in paths}
    if not wanted:
        return wanted
    fields = ("pair_id", "trace_id", "captured_at", "paths", "differences")
    for row in _mismatched(route, since).order_by("-captured_at").values(*fields)[:MAX_EXAMPLE_SCAN]:
        for path in row["paths"]:
            found = wanted.get(path)
            if found is not None and len(found) < per_path:
                found.append({**row, "captured_at": _iso(row["captured_at"])})
        if all(len(found) >= per_path for found in wanted.values()):
            break
    chosen = {row["pair_id"] for found in wanted.values() for row in found}
    kept = dict(PairResult.objects.filter(pair_id__in=chosen).values_list("pair_id", "example"))
    for found in wanted.values():
        for row in found:
            row["example"] = kept.get(row["pair_id"])
    return wanted


def _mismatched(route: str, since: datetime | None):
    rows = PairResult.objects.filter(route=route, matched=False, skipped="")
    return rows if since is None else rows.filter(captured_at__gte=since)


def _count_paths(lists: Iterable[list[str]]) -> dict[str, int]:
    counts: Counter = Counter()
    for paths in lists:
        counts.update(paths)
    return dict(counts)


def _truncate(moment: datetime, kind: str) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    if kind in ("hour", "day"):
        moment = moment.replace(minute=0)
    if kind == "day":
        moment = moment.replace(hour=0)
    return moment


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
