"""The Order service's Celery tasks: the saga's timers (chassis/celery_app.py: ids only, late acks)."""

from __future__ import annotations

from chassis.celery_app import service_task

from .saga import engine


@service_task
def saga_retry(saga_id: str, step: str, attempt: int) -> None:
    """A step's backoff is over: send it again (a no-op when the saga moved on meanwhile)."""
    engine.saga_retry_due(saga_id, step, attempt)


@service_task(max_retries=0)
def saga_sweep() -> int:
    """Beat, every second: steps past their deadline, retries due, sagas past their deadline."""
    return engine.saga_sweep()
