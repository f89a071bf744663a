"""The rollout controller's Prometheus metrics, served by `rollout run --metrics-port P` while it runs.

strangler_rollout_rollbacks_total{route} counts the rollbacks this controller made; the RolloutRolledBack
alert fires on its increase (deploy/prometheus.py). Every running rollout's route is declared at 0 when
the controller drives it, so a first rollback after a (re)start is an increase Prometheus sees."""

from __future__ import annotations

from prometheus_client import Counter

ROLLBACKS = Counter("strangler_rollout_rollbacks", "Rollbacks made by the rollout controller.", ["route"])


def declare_route(route: str) -> None:
    ROLLBACKS.labels(route)


def count_rollback(route: str) -> None:
    ROLLBACKS.labels(route).inc()
