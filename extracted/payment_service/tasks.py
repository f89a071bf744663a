"""Celery tasks of the Payment service (chassis.celery_app): provider calls with retries, and the
periodic reconciler. Tasks take payment ids and are sent once the caller's transaction commits.

Retries: database and network errors retry on the chassis defaults (`autoretry_for`, `retry_backoff`,
`retry_jitter`, `max_retries`). A provider that does not answer (`ProviderUnavailable`) is retried with
the same exponential backoff and full jitter, clamped to the payment's deadline: a charge is never
attempted after its caller (the order) gave up on it; past the deadline or the last retry the payment
fails, and an answer that was lost leaves it flagged for the reconciler. Every step is idempotent (see
services/charges.py), so a redelivered task (late acks, a worker killed with -9) does no harm.
"""

from __future__ import annotations

import logging
import random

from celery.exceptions import MaxRetriesExceededError
from django.conf import settings
from django.utils import timezone

from chassis.celery_app import enqueue_on_commit, service_task

from .models import Payment
from .providers import ProviderUnavailable

log = logging.getLogger(__name__)
BACKOFF_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


def backoff_with_full_jitter(retries: int) -> float:
    """Celery's retry_backoff/retry_jitter rule: uniform in [0, min(max, base * 2**retries)]."""
    return random.uniform(0, min(BACKOFF_MAX_SECONDS, BACKOFF_SECONDS * 2**retries))


def _retry_within_deadline(task, payment_id: int, exc: ProviderUnavailable) -> None:
    """Retry the task before the payment's deadline, or give up on the payment now."""
    from .services.charges import payment_give_up

    payment = Payment.objects.get(pk=payment_id)
    remaining = (payment.deadline - timezone.now()).total_seconds() if payment.deadline else None
    countdown = backoff_with_full_jitter(task.request.retries)
    if remaining is not None:
        if remaining <= 0.05:
            payment_give_up(payment_id, reason=f"deadline passed: {exc}")
            return
        countdown = min(countdown, max(0.05, remaining - 0.05))
    try:
        raise task.retry(exc=exc, countdown=countdown, max_retries=settings.PAYMENT_TASK_MAX_RETRIES)
    except MaxRetriesExceededError:
        payment_give_up(
            payment_id, reason=f"provider unavailable after {task.request.retries} retries: {exc}"
        )


@service_task(bind=True, max_retries=8, retry_backoff=BACKOFF_SECONDS, retry_backoff_max=BACKOFF_MAX_SECONDS)
def payment_process(self, payment_id: int) -> None:
    """Antifraud, authorize, and (capture mode) capture one payment."""
    from .services.charges import payment_advance, payment_give_up

    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or payment.status not in (Payment.Status.PENDING, Payment.Status.AUTHORIZED):
        return
    if payment.status == Payment.Status.PENDING and payment.deadline and timezone.now() >= payment.deadline:
        payment_give_up(payment_id, reason="deadline passed before the charge could run")
        return
    try:
        payment_advance(payment_id)
    except ProviderUnavailable as exc:
        _retry_within_deadline(self, payment_id, exc)


@service_task(bind=True, max_retries=8, retry_backoff=BACKOFF_SECONDS, retry_backoff_max=BACKOFF_MAX_SECONDS)
def payment_capture(self, payment_id: int) -> None:
    """Capture an authorized payment (the saga confirmed its order). Retried until done; the reconciler
    takes over if the retries run out (`next_action`)."""
    from .services.charges import payment_capture_now

    try:
        payment_capture_now(payment_id)
    except ProviderUnavailable as exc:
        raise self.retry(exc=exc, countdown=backoff_with_full_jitter(self.request.retries)) from exc


@service_task(bind=True, max_retries=8, retry_backoff=BACKOFF_SECONDS, retry_backoff_max=BACKOFF_MAX_SECONDS)
def payment_cancel(self, payment_id: int) -> None:
    """The saga's compensation: void an authorization, refund a capture, stop a pending charge."""
    from .services.compensation import payment_compensate

    try:
        payment_compensate(payment_id)
    except ProviderUnavailable as exc:
        raise self.retry(exc=exc, countdown=backoff_with_full_jitter(self.request.retries)) from exc


@service_task
def payments_reconcile_periodic() -> dict:
    """Celery beat: the reconciler over payments left open or unsure."""
    from .services.reconcile import payments_reconcile

    return payments_reconcile().to_dict()


def _enqueue(task, payment_id: int) -> None:
    """Send the task once the caller's transaction commits (chassis.celery_app.enqueue_on_commit). A broker
    that refuses it does not fail the caller's request, whose payment is already committed: the payment
    stays pending and the reconciler schedules it again."""
    enqueue_on_commit(_Guarded(task), payment_id)


class _Guarded:
    def __init__(self, task):
        self.task, self.name = task, task.name

    def apply_async(self, *, args, countdown=None):
        try:
            self.task.apply_async(args=args, countdown=countdown)
        except Exception as exc:  # the reconciler picks the payment up again
            log.warning("task %s for %s not sent: %s", self.name, args, exc)


def payment_process_enqueue(payment_id: int) -> None:
    _enqueue(payment_process, payment_id)


def payment_capture_enqueue(payment_id: int) -> None:
    _enqueue(payment_capture, payment_id)


def payment_cancel_enqueue(payment_id: int) -> None:
    _enqueue(payment_cancel, payment_id)
