"""The comparator's Prometheus metrics, served by `shadow worker --metrics-port P` while it runs.

Each stored pair is counted once, by route and outcome: `matched` (no difference), `noise` (every path that
differed also differed between the pair's own two legacy answers or two candidate answers), `mismatched`
(a difference its noise answers do not explain) and `skipped` (not comparable). A redelivered pair the store
already holds is not counted again. The match rate of a route over a window is
rate(matched + noise) / rate(matched + noise + mismatched): the per-pair view of what the reports and the
gate judge over the whole route (shadow/noise.py). The ShadowMatchRateFalling alert and the migration
dashboard's shadow panel read it (deploy/prometheus.py, deploy/dashboards.py)."""

from __future__ import annotations

from prometheus_client import Counter

from shadow.comparator import PairResult

PAIRS_COMPARED = Counter(
    "strangler_shadow_pairs_compared",
    "Shadow pairs compared and stored, by route and outcome (matched, noise, mismatched, skipped).",
    ["route", "outcome"],
)
OUTCOMES = ("matched", "noise", "mismatched", "skipped")


def outcome_of(result: PairResult) -> str:
    if result.skipped:
        return "skipped"
    if result.matched:
        return "matched"
    return "noise" if set(result.paths) <= set(result.noise_paths) else "mismatched"


def count_stored(result: PairResult) -> None:
    PAIRS_COMPARED.labels(result.route, outcome_of(result)).inc()


def declare_route(route: str) -> None:
    """Start a route's series at 0, so the first pairs after a restart show up in rate() and increase()."""
    for outcome in OUTCOMES:
        PAIRS_COMPARED.labels(route, outcome)
