"""How many requests still reached the monolith over a window of days, from counters that only grow.

Two feeds, both read with the rollout controller's scraper (control/rollout/scrape.py):
- the gateway's `strangler_requests_total{route,upstream}`: the upstream that finally answered, so a
  request that fell back to the monolith counts for it (the judge's outcomes count the flag's choice);
- the monolith's own `http_requests_total{method,route}` (chassis.metrics, route = the URLconf entry's
  name): the entries no gateway route moves, the internal ones services call directly included.

Every status reading stores a sample (control database, TrafficSample); a window is the sum of the
increases between consecutive samples. A counter that went down means its process restarted: what
happened between the last sample before the restart and the restart is unseen, so the window is proven
only from the first sample after it. A window is proven when a sample at least `window` old exists
after the last restart; sample often enough (`decommission status --interval 60`) for days-long windows.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from control.models import TrafficSample
from control.rollout.evidence import metrics_urls as gateway_metrics_urls
from control.rollout.scrape import scrape

GATEWAY, MONOLITH = "gateway", "monolith"
GATEWAY_REQUESTS = "strangler_requests"
MONOLITH_REQUESTS = "http_requests"
KEEP = timedelta(days=35)  # samples older than this are pruned (windows are days, not months)


def monolith_metrics_urls() -> list[str]:
    """MONOLITH_METRICS_URLS (comma-separated), else MONOLITH_URL's /metrics."""
    raw = os.environ.get("MONOLITH_METRICS_URLS")
    if not raw:
        base = (os.environ.get("MONOLITH_URL") or "http://127.0.0.1:8000").rstrip("/")
        raw = f"{base}/metrics"
    return [u.strip() for u in raw.split(",") if u.strip()]


def gateway_key(route: str, upstream: str) -> str:
    return f"{route} {upstream}"


def entry_key(method: str, view: str) -> str:
    return f"{method} {view}"


def parse_counters(texts: list[str], family_name: str, labels: tuple[str, str]) -> dict[str, float]:
    """{"<label0> <label1>": total} of one counter family, summed over the texts (several processes)."""
    counters: dict[str, float] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in (family_name, f"{family_name}_total"):  # typed, or not (no # TYPE line)
                continue
            for sample in family.samples:
                if sample.name != f"{family_name}_total":
                    continue
                first, second = sample.labels.get(labels[0]), sample.labels.get(labels[1])
                if first is None or second is None:
                    continue
                key = f"{first} {second}"
                counters[key] = counters.get(key, 0.0) + sample.value
    return counters


def take_samples(*, timeout: float = 3.0, now: datetime | None = None) -> dict[str, TrafficSample]:
    """Read both feeds and store one sample of each; EvidenceUnavailable when an endpoint is away."""
    now = now or timezone.now()
    gateway = [text for _url, text in scrape(gateway_metrics_urls(), timeout)]
    monolith = [text for _url, text in scrape(monolith_metrics_urls(), timeout)]
    taken = {
        GATEWAY: TrafficSample.objects.create(
            source=GATEWAY,
            taken_at=now,
            counters=parse_counters(gateway, GATEWAY_REQUESTS, ("route", "upstream")),
        ),
        MONOLITH: TrafficSample.objects.create(
            source=MONOLITH,
            taken_at=now,
            counters=parse_counters(monolith, MONOLITH_REQUESTS, ("method", "route")),
        ),
    }
    TrafficSample.objects.filter(taken_at__lt=now - KEEP).delete()
    return taken


@dataclass
class Window:
    """The requests counted under some keys over the window, and whether the samples prove the window."""

    seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    observed_seconds: float = 0.0  # from the proving baseline (or the oldest usable sample) to now
    restarts: int = 0

    @property
    def proven(self) -> bool:
        return self.observed_seconds >= self.seconds

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def window_counts(
    samples: list[tuple[datetime, dict[str, float]]], *, seconds: float, now: datetime
) -> Window:
    """The increase of every counter over the last `seconds` before `now`, from samples (oldest first).

    The baseline is the newest sample at least `seconds` old; only the samples since the last restart
    (a counter that went down) count as proof, and a restart's own count is taken whole."""
    start = now - timedelta(seconds=seconds)
    baseline = max((i for i, (t, _c) in enumerate(samples) if t <= start), default=0)
    usable = samples[baseline:]
    window = Window(seconds=seconds)
    if not usable:
        return window
    proof_from = usable[0][0]
    for (_t0, before), (t1, after) in itertools.pairwise(usable):
        restarted = any(after.get(k, 0.0) < v for k, v in before.items())
        if restarted:
            window.restarts += 1
            proof_from = t1
        for key, value in after.items():
            delta = value if restarted else value - before.get(key, 0.0)
            if delta > 0:
                window.counts[key] = window.counts.get(key, 0) + round(delta)
    window.observed_seconds = max(0.0, (now - proof_from).total_seconds())
    return window


def load_window(source: str, *, seconds: float, now: datetime | None = None) -> Window:
    """The window of one feed from the stored samples."""
    now = now or timezone.now()
    start = now - timedelta(seconds=seconds)
    older = (
        TrafficSample.objects.filter(source=source, taken_at__lte=start).order_by("-taken_at", "-id").first()
    )
    rows = TrafficSample.objects.filter(source=source, taken_at__gt=start, taken_at__lte=now).order_by(
        "taken_at", "id"
    )
    samples = ([(older.taken_at, older.counters)] if older else []) + [(r.taken_at, r.counters) for r in rows]
    return window_counts(samples, seconds=seconds, now=now)
