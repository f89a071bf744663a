"""Writes to the comparator's database (alias `shadow`): compared pairs and their running counts, and the
dead letters. Recording is idempotent on the pair id: a redelivered pair changes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from shadow.comparator import PairResult as Compared
from shadow.models import DeadLetter, PairResult, PathStats, RouteStats
from shadow.pairs import ShadowPair
from shadow.routers import DATABASE

EXAMPLE_BODY_CHARS = 8192  # of each body kept with a differing pair
DEAD_LETTER_CHARS = 64 * 1024


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    recorded: int
    duplicates: int
    fresh_ids: frozenset[str] = frozenset()  # the pairs this call stored (the worker counts them)


@dataclass
class _RouteDelta:
    samples: int = 0
    matched: int = 0
    noise_samples: int = 0
    skipped: int = 0
    first: datetime | None = None
    last: datetime | None = None
    raw: Counter = field(default_factory=Counter)
    noise: Counter = field(default_factory=Counter)


def results_record(*, items: Sequence[tuple[ShadowPair, Compared]]) -> RecordOutcome:
    """Store compared pairs and add them to the route and path counts, in one transaction. Pairs already
    stored (redelivered, or twice in `items`) are skipped; a concurrent worker storing the same pair at the
    same moment makes this batch fall back to one transaction per pair."""
    unique = list({pair.id: (pair, result) for pair, result in items}.values())
    try:
        with transaction.atomic(using=DATABASE):
            fresh = _record(unique)
    except IntegrityError:
        fresh = []
        for item in unique:
            try:
                with transaction.atomic(using=DATABASE):
                    fresh += _record([item])
            except IntegrityError:
                continue
    return RecordOutcome(recorded=len(fresh), duplicates=len(items) - len(fresh), fresh_ids=frozenset(fresh))


def dead_letter_record(*, raw: bytes, error: str, source: str = "") -> DeadLetter:
    text = raw[:DEAD_LETTER_CHARS].decode("utf-8", errors="replace")
    return DeadLetter.objects.create(raw=text, error=error[:2000], source=source[:200])


def _record(items: list[tuple[ShadowPair, Compared]]) -> list[str]:
    ids = [pair.id for pair, _ in items]
    existing = set(PairResult.objects.filter(pair_id__in=ids).values_list("pair_id", flat=True))
    fresh = [(pair, result) for pair, result in items if pair.id not in existing]
    if not fresh:
        return []
    rows = [_row(pair, result) for pair, result in fresh]
    PairResult.objects.bulk_create(rows)
    deltas: dict[str, _RouteDelta] = {}
    for row, (_, result) in zip(rows, fresh, strict=True):
        delta = deltas.setdefault(row.route, _RouteDelta())
        delta.first = min(filter(None, (delta.first, row.captured_at)))
        delta.last = max(filter(None, (delta.last, row.captured_at)))
        if result.skipped:
            delta.skipped += 1
            continue
        delta.samples += 1
        delta.matched += result.matched
        delta.noise_samples += result.noise_checked
        delta.raw.update(result.paths)
        delta.noise.update(result.noise_paths)
    now = timezone.now()
    for route, delta in deltas.items():
        _add_route(route, delta, now)
        _add_paths(route, delta)
    return [pair.id for pair, _ in fresh]


def _add_route(route: str, delta: _RouteDelta, now: datetime) -> None:
    RouteStats.objects.get_or_create(
        route=route,
        defaults={"first_captured_at": delta.first, "last_captured_at": delta.last, "last_compared_at": now},
    )
    RouteStats.objects.filter(route=route).update(
        samples=F("samples") + delta.samples,
        matched=F("matched") + delta.matched,
        noise_samples=F("noise_samples") + delta.noise_samples,
        skipped=F("skipped") + delta.skipped,
        first_captured_at=Least("first_captured_at", delta.first),
        last_captured_at=Greatest("last_captured_at", delta.last),
        last_compared_at=now,
    )


def _add_paths(route: str, delta: _RouteDelta) -> None:
    paths = set(delta.raw) | set(delta.noise)
    if not paths:
        return
    PathStats.objects.bulk_create(
        [PathStats(route=route, path=path[:500]) for path in sorted(paths)], ignore_conflicts=True
    )
    for path in sorted(paths):
        PathStats.objects.filter(route=route, path=path[:500]).update(
            raw_count=F("raw_count") + delta.raw[path], noise_count=F("noise_count") + delta.noise[path]
        )


def _row(pair: ShadowPair, result: Compared) -> PairResult:
    differs = not result.matched or bool(result.noise_paths)
    return PairResult(
        pair_id=pair.id,
        route=pair.route,
        trace_id=pair.trace_id[:64],
        method=pair.method[:10],
        path=pair.path[:2000],
        matched=result.matched,
        paths=list(result.paths),
        noise_paths=list(result.noise_paths),
        noise_checked=result.noise_checked,
        noisy=bool(result.noise_paths),
        differences=[d.to_dict() for d in result.differences],
        primary_status=pair.primary.status,
        candidate_status=pair.candidate.status,
        primary_ms=pair.primary.elapsed_ms,
        candidate_ms=pair.candidate.elapsed_ms,
        captured_at=datetime.fromisoformat(pair.captured_at),
        example=example_of(pair) if differs and not result.skipped else None,
        skipped=result.skipped[:100],
    )


def example_of(pair: ShadowPair) -> dict:
    """The pair as JSON with every body cut to EXAMPLE_BODY_CHARS (the cut is marked)."""
    data = pair.to_dict()
    data.pop("request_headers", None)  # credentials are redacted already, but examples do not need them
    for name in ("primary", "candidate", "secondary", "candidate2"):
        exchange = data.get(name)
        if exchange and len(exchange["body"]) > EXAMPLE_BODY_CHARS:
            exchange["body"] = exchange["body"][:EXAMPLE_BODY_CHARS]
            exchange["example_cut"] = True
    if len(data["request_body"]) > EXAMPLE_BODY_CHARS:
        data["request_body"] = data["request_body"][:EXAMPLE_BODY_CHARS]
    return data
