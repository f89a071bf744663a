"""What the gateway really did, from its own Prometheus endpoint (GATEWAY_METRICS_URLS, the rollout
judge's feed, control/rollout/evidence.py): per route the traffic split by the upstream the flag chose;
per upstream the error rate and p99; each breaker's state.

Counters only grow, so "the last minute" is the difference between now and a snapshot about a minute
old. Snapshots (reduced to what the cockpit shows) are kept in `<STRANGLER_VAR_DIR>/cockpit/gateway.json`
for three minutes, one every 5 s at most, so every status command and every page refresh (several
processes) shares one history; its intervals are the split-over-time chart's points."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from control.rollout.evidence import ERROR_OUTCOMES, LATENCY, OUTCOMES, metrics_urls
from control.rollout.scrape import scrape
from control.rollout.stats import binned_quantile

BREAKER = "strangler_breaker_state"
BREAKER_STATES = {0: "closed", 1: "half-open", 2: "open"}
KEEP_SECONDS = 180.0
EVERY_SECONDS = 5.0
WINDOW_SECONDS = 60.0


def history_path() -> Path:
    var_dir = Path(os.environ.get("STRANGLER_VAR_DIR") or Path(__file__).resolve().parents[2] / "var")
    return var_dir / "cockpit" / "gateway.json"


def reduce(texts: list[str]) -> dict[str, Any]:
    """{outcomes: {route: {upstream: {outcome: n}}}, buckets: {upstream: {le: n}}, breakers: {route:
    {upstream: state}}}, summed over every gateway (breakers: the worst)."""
    outcomes: dict[str, dict[str, dict[str, float]]] = {}
    buckets: dict[str, dict[str, float]] = {}
    breakers: dict[str, dict[str, int]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in (OUTCOMES, LATENCY, BREAKER):
                continue
            for sample in family.samples:
                route, upstream = sample.labels.get("route"), sample.labels.get("upstream")
                if route is None or upstream is None:
                    continue
                if sample.name == f"{OUTCOMES}_total":
                    side = outcomes.setdefault(route, {}).setdefault(upstream, {})
                    side[sample.labels["outcome"]] = side.get(sample.labels["outcome"], 0.0) + sample.value
                elif sample.name == f"{LATENCY}_bucket":
                    side = buckets.setdefault(upstream, {})
                    side[sample.labels["le"]] = side.get(sample.labels["le"], 0.0) + sample.value
                elif sample.name == BREAKER:
                    now = breakers.setdefault(route, {}).get(upstream, 0)
                    breakers[route][upstream] = max(now, int(sample.value))
    return {"outcomes": outcomes, "buckets": buckets, "breakers": breakers}


def _remember(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Add `entry` to the shared history (unless the last one is younger than EVERY_SECONDS); the history
    of the last KEEP_SECONDS, oldest first, with `entry` last either way."""
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            history = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            history = []
        history = [h for h in history if entry["t"] - KEEP_SECONDS <= h.get("t", 0) <= entry["t"]]
        if not history or entry["t"] - history[-1]["t"] >= EVERY_SECONDS:
            history.append(entry)
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(history), encoding="utf-8")
            temporary.replace(path)
    return [*[h for h in history if h is not entry and h["t"] < entry["t"]], entry]


def _delta(now: dict[str, float], then: dict[str, float]) -> dict[str, float] | None:
    out = {k: now.get(k, 0.0) - then.get(k, 0.0) for k in set(now) | set(then)}
    return None if any(v < 0 for v in out.values()) else out  # a gateway restarted


def _le(key: str) -> float:
    return float("inf") if key.lower() in ("+inf", "inf") else float(key)


def _split(now: dict[str, Any], then: dict[str, Any]) -> dict[str, dict[str, int]]:
    """{route: {upstream: requests}} between two reduced snapshots."""
    split: dict[str, dict[str, int]] = {}
    for route, sides in now["outcomes"].items():
        for upstream, counts in sides.items():
            delta = _delta(counts, then["outcomes"].get(route, {}).get(upstream, {}))
            if delta is None:
                delta = counts
            split.setdefault(route, {})[upstream] = int(sum(delta.values()))
    return split


def gateway_status(*, timeout: float = 2.0, now: float | None = None) -> dict[str, Any]:
    """Scrape every gateway; raises (EvidenceUnavailable) when one does not answer."""
    urls = metrics_urls()
    texts = [text for _url, text in scrape(urls, timeout)]
    entry = {"t": time.time() if now is None else now, **reduce(texts)}
    history = _remember(entry)
    base = next((h for h in history if entry["t"] - h["t"] <= WINDOW_SECONDS), history[0])
    seconds = entry["t"] - base["t"]
    routes: dict[str, Any] = {}
    for route, sides in _split(entry, base).items():
        total = sum(sides.values())
        routes[route] = {
            "requests": sides,
            "share": {u: round(n / total, 4) for u, n in sides.items()} if total else {},
        }
    upstreams: dict[str, Any] = {}
    for route, sides in entry["outcomes"].items():
        for upstream, counts in sides.items():
            delta = _delta(counts, base["outcomes"].get(route, {}).get(upstream, {})) or counts
            mine = upstreams.setdefault(upstream, {"requests": 0, "errors": 0})
            mine["requests"] += int(sum(delta.values()))
            mine["errors"] += int(sum(delta.get(o, 0.0) for o in ERROR_OUTCOMES))
    for upstream, mine in upstreams.items():
        now_b, then_b = entry["buckets"].get(upstream, {}), base["buckets"].get(upstream, {})
        delta = _delta(now_b, then_b) or now_b
        bounds = sorted(delta, key=_le)
        cumulative = [delta[b] for b in bounds]
        counts = [c - (cumulative[i - 1] if i else 0.0) for i, c in enumerate(cumulative)]
        p99 = binned_quantile([_le(b) for b in bounds], counts, 0.99) if sum(counts) else None
        mine["error_rate"] = round(mine["errors"] / mine["requests"], 4) if mine["requests"] else None
        mine["p99_ms"] = None if p99 is None or p99 == float("inf") else round(p99 * 1000, 1)
    series = []
    for before, after in itertools.pairwise(history):
        series.append({"t": after["t"], "routes": _split(after, before)})
    return {
        "window_seconds": round(seconds, 1),
        "urls": urls,
        "routes": routes,
        "upstreams": upstreams,
        "breakers": {
            route: {u: BREAKER_STATES.get(v, str(v)) for u, v in sides.items()}
            for route, sides in entry["breakers"].items()
        },
        "series": series,
    }
