"""Latency figures every bench reports: percentiles (linear interpolation), mean, max, req/s."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class ScenarioFigures:
    requests: int
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    rps: float
    avg_count: float  # mean `count` of the pages: what the scenario matched, for comparing backends

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def summarize(
    latencies_s: Sequence[float], *, errors: int, wall_s: float, counts: Sequence[int]
) -> ScenarioFigures:
    """Figures in milliseconds from per-request latencies in seconds (successful and failed alike)."""
    ms = [latency * 1000 for latency in latencies_s] or [0.0]
    return ScenarioFigures(
        requests=len(latencies_s),
        errors=errors,
        p50_ms=round(percentile(ms, 50), 2),
        p90_ms=round(percentile(ms, 90), 2),
        p99_ms=round(percentile(ms, 99), 2),
        mean_ms=round(sum(ms) / len(ms), 2),
        max_ms=round(max(ms), 2),
        rps=round(len(latencies_s) / wall_s, 1) if wall_s > 0 else 0.0,
        avg_count=round(sum(counts) / len(counts), 1) if counts else 0.0,
    )
