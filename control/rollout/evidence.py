"""The judge's figures, read from the gateway's own Prometheus endpoint (one or several gateways, summed):
`strangler_route_outcomes_total{route,upstream,outcome}` and `strangler_route_duration_seconds` by the
upstream the flag chose. A scrape of one gateway costs a few milliseconds; the controller reads it about
once a second, so no other feed is needed.

Counters only grow, so a window is the difference of two snapshots; a counter that went down means a
gateway restarted, and the window starts again."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from control.rollout.judge import Side, Window
from control.rollout.scrape import scrape

OUTCOMES = "strangler_route_outcomes"
LATENCY = "strangler_route_duration_seconds"
ERROR_OUTCOMES = ("5xx", "timeout", "error")
DEFAULT_METRICS_URL = "http://127.0.0.1:9464/metrics"

# {route: {upstream: {"outcomes": {outcome: n}, "buckets": {le: cumulative n}}}}
Snapshot = dict[str, dict[str, dict[str, dict[str, float]]]]


def metrics_urls() -> list[str]:
    raw = os.environ.get("GATEWAY_METRICS_URLS") or DEFAULT_METRICS_URL
    return [u.strip() for u in raw.split(",") if u.strip()]


def parse_snapshot(text: str, into: Snapshot | None = None) -> Snapshot:
    snapshot: Snapshot = into if into is not None else {}
    for family in text_string_to_metric_families(text):
        if family.name not in (OUTCOMES, LATENCY):
            continue
        for sample in family.samples:
            labels = sample.labels
            route, upstream = labels.get("route"), labels.get("upstream")
            if route is None or upstream is None:
                continue
            side = snapshot.setdefault(route, {}).setdefault(upstream, {"outcomes": {}, "buckets": {}})
            if sample.name == f"{OUTCOMES}_total":
                key, bucket = labels["outcome"], side["outcomes"]
            elif sample.name == f"{LATENCY}_bucket":
                key, bucket = labels["le"], side["buckets"]
            else:
                continue
            bucket[key] = bucket.get(key, 0.0) + sample.value
    return snapshot


@dataclass
class GatewayFeed:
    urls: list[str]
    timeout: float = 2.0

    @classmethod
    def from_env(cls) -> GatewayFeed:
        return cls(metrics_urls())

    def snapshot(self) -> Snapshot:
        snapshot: Snapshot = {}
        for _url, text in scrape(self.urls, self.timeout):
            parse_snapshot(text, snapshot)
        return snapshot


def _le(key: str) -> float:
    return math.inf if key in ("+Inf", "inf", "Inf") else float(key)


def _side(
    now: dict[str, dict[str, float]], then: dict[str, dict[str, float]], bounds: list[str]
) -> Side | None:
    outcomes = {}
    for outcome in set(now.get("outcomes", {})) | set(then.get("outcomes", {})):
        delta = now.get("outcomes", {}).get(outcome, 0.0) - then.get("outcomes", {}).get(outcome, 0.0)
        if delta < 0:
            return None
        outcomes[outcome] = int(delta)
    cumulative = []
    for le in bounds:
        delta = now.get("buckets", {}).get(le, 0.0) - then.get("buckets", {}).get(le, 0.0)
        if delta < 0:
            return None
        cumulative.append(delta)
    buckets = tuple(c - (cumulative[i - 1] if i else 0.0) for i, c in enumerate(cumulative))
    if any(b < 0 for b in buckets):
        return None
    return Side(
        requests=sum(outcomes.values()),
        errors=sum(outcomes.get(o, 0) for o in ERROR_OUTCOMES),
        outcomes=outcomes,
        buckets=buckets,
    )


def window_between(
    baseline: dict[str, Any], current: dict[str, Any], *, target: str, legacy: str, seconds: float
) -> Window | None:
    """The route's window from `baseline` to `current` (both: one route's part of a Snapshot), or None
    when a counter went backwards (a gateway restarted: open a new window)."""
    keys: set[str] = set()
    for part in (baseline, current):
        for side in part.values():
            keys |= set(side.get("buckets", {}))
    bounds = sorted(keys, key=_le)
    empty: dict[str, dict[str, float]] = defaultdict(dict)
    sides = [_side(current.get(name, empty), baseline.get(name, empty), bounds) for name in (target, legacy)]
    if sides[0] is None or sides[1] is None:
        return None
    return Window(target=sides[0], legacy=sides[1], bounds=tuple(_le(b) for b in bounds), seconds=seconds)
