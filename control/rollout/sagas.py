"""Saga outcomes as stage evidence (the orders and payments stages): the Order service's own figures, read
from its Prometheus endpoint the way the gateway's are -- `order_saga_finished_total{outcome}` (completed,
compensated) and `order_saga_stuck` (sagas past their deadline, or failed), summed over every process of
the service (they share PROMETHEUS_MULTIPROC_DIR).

Where: ORDER_METRICS_URLS (comma-separated), else the route table's `orders` upstream + /metrics. A route's
saga evidence is read only when its policy has a `saga:` section. When no Order service answers there, or
what answers has no saga figures, the evidence is ABSENT: the judge goes on without it and says so in its
numbers (a stage whose service is not deployed yet is judged on the gateway's figures alone). Once a step's
window holds a saga baseline, losing the feed holds the step instead (it cannot be promoted blind).

Counters only grow: a window is the difference of two snapshots; a counter that went down means the
service restarted (its multiprocess files were wiped), and the window starts again."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from control.rollout.scrape import EvidenceUnavailable, scrape
from control.routes_file import upstream_urls

FINISHED = "order_saga_finished"
STUCK = "order_saga_stuck"
ORDERS_UPSTREAM = "orders"


class SagaEvidenceAbsent(Exception):
    """No Order service figures at the configured place (the reason says where and why)."""


@dataclass(frozen=True)
class SagaCounts:
    completed: float
    compensated: float
    stuck: float

    def to_dict(self) -> dict[str, float]:
        return {"completed": self.completed, "compensated": self.compensated, "stuck": self.stuck}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SagaCounts:
        return cls(float(data["completed"]), float(data["compensated"]), float(data["stuck"]))


@dataclass(frozen=True)
class SagaWindow:
    """The sagas that finished within a step's window, and the stuck ones now against when it opened."""

    completed: int
    compensated: int
    stuck: int
    stuck_at_open: int

    @property
    def finished(self) -> int:
        return self.completed + self.compensated

    def to_dict(self) -> dict[str, int]:
        return {
            "completed": self.completed,
            "compensated": self.compensated,
            "stuck": self.stuck,
            "stuck_at_open": self.stuck_at_open,
        }


def parse_saga_counts(text: str) -> SagaCounts | None:
    """The saga figures in one Prometheus exposition; None when it has none (not an Order service)."""
    completed = compensated = stuck = 0.0
    found = False
    for family in text_string_to_metric_families(text):
        if family.name == FINISHED:
            for sample in family.samples:
                if sample.name == f"{FINISHED}_total":
                    found = True
                    outcome = sample.labels.get("outcome")
                    completed += sample.value if outcome == "completed" else 0.0
                    compensated += sample.value if outcome == "compensated" else 0.0
        elif family.name == STUCK:
            found = True
            stuck += sum(sample.value for sample in family.samples)
    return SagaCounts(completed, compensated, stuck) if found else None


def saga_window(baseline: SagaCounts, current: SagaCounts) -> SagaWindow | None:
    """None when a counter went down (the Order service restarted: open a new window)."""
    completed = current.completed - baseline.completed
    compensated = current.compensated - baseline.compensated
    if completed < 0 or compensated < 0:
        return None
    return SagaWindow(int(completed), int(compensated), int(current.stuck), int(baseline.stuck))


@dataclass
class SagaFeed:
    urls: list[str]
    timeout: float = 2.0

    @classmethod
    def from_env(cls) -> SagaFeed:
        raw = os.environ.get("ORDER_METRICS_URLS", "")
        urls = [u.strip() for u in raw.split(",") if u.strip()]
        if not urls:
            base = upstream_urls().get(ORDERS_UPSTREAM)
            urls = [f"{base.rstrip('/')}/metrics"] if base else []
        return cls(urls)

    def snapshot(self) -> SagaCounts:
        """The sum over every URL; SagaEvidenceAbsent when one does not answer or has no saga figures."""
        if not self.urls:
            raise SagaEvidenceAbsent(
                "no Order service configured (ORDER_METRICS_URLS, or an `orders` upstream)"
            )
        try:
            texts = scrape(self.urls, self.timeout)
        except EvidenceUnavailable as exc:
            raise SagaEvidenceAbsent(f"the Order service does not answer: {exc.message}") from None
        total = SagaCounts(0.0, 0.0, 0.0)
        for url, text in texts:
            counts = parse_saga_counts(text)
            if counts is None:
                raise SagaEvidenceAbsent(f"{url} has no order_saga_* figures (not the Order service?)")
            total = SagaCounts(
                total.completed + counts.completed,
                total.compensated + counts.compensated,
                total.stuck + counts.stuck,
            )
        return total
