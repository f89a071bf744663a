"""Prometheus metrics of the checkout saga (on the service's /metrics and the workers')."""

from __future__ import annotations

from django.utils import timezone

from chassis.metrics import counter, gauge, histogram

STARTED = counter("order_saga_started_total", "Checkout sagas started")
FINISHED = counter("order_saga_finished_total", "Checkout sagas finished, by outcome", ["outcome"])
RETRIES = counter("order_saga_step_retries_total", "Saga steps sent again, by step", ["step"])
STUCK = gauge("order_saga_stuck", "Sagas past their deadline and still not finished", mode="max")
STEP_LATENCY = histogram(
    "order_saga_step_duration_seconds",
    "From a step's command to its participant's reply",
    ["step", "outcome"],
)
SAGA_DURATION = histogram(
    "order_saga_duration_seconds",
    "From checkout to a finished saga",
    ["outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def observe_step(saga, outcome: str) -> None:
    STEP_LATENCY.labels(saga.step, outcome).observe(
        max(0.0, (timezone.now() - saga.updated_at).total_seconds())
    )


def finished(saga) -> None:
    outcome = "completed" if saga.state == "completed" else "compensated"
    FINISHED.labels(outcome).inc()
    SAGA_DURATION.labels(outcome).observe((timezone.now() - saga.created_at).total_seconds())


def update_stuck() -> None:
    from ..models import Saga

    STUCK.set(
        Saga.objects.filter(state__in=("running", "compensating"), deadline__lt=timezone.now()).count()
        + Saga.objects.filter(state="failed").count()
    )
