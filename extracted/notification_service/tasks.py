"""Celery tasks of the Notification service: the first send of the rows one consumer batch created, in one
task (one claim, one SMTP connection); a row whose send must be retried goes on alone: one delivery per task
(ids only), retried with exponential backoff and full jitter up to NOTIFICATION_MAX_RETRIES (the batch's
attempt counted), then failed and dead-lettered; and the sweep that picks up rows a lost task or a dead
worker left behind."""

from __future__ import annotations

import logging
import random

from django.conf import settings

from chassis.celery_app import service_task

from .models import Notification

log = logging.getLogger(__name__)


def backoff_with_full_jitter(retries: int) -> float:
    cap = min(settings.NOTIFICATION_RETRY_MAX_SECONDS, settings.NOTIFICATION_RETRY_BASE_SECONDS * 2**retries)
    return random.uniform(0, cap)


@service_task(bind=True, max_retries=None)
def notification_deliver(self, notification_id: str):
    from .services.dead_letters import dead_letter
    from .services.delivery import notification_send

    final = self.request.retries >= settings.NOTIFICATION_MAX_RETRIES
    outcome = notification_send(notification_id, final_attempt=final)
    if outcome.state == "retry":
        # throw=False: the retry is sent and this run ends normally (an eager run applies it in place).
        return self.retry(
            countdown=backoff_with_full_jitter(self.request.retries), max_retries=None, throw=False
        )
    if outcome.state == "failed":
        row = Notification.objects.get(pk=notification_id)
        log.error(
            "notification %s failed after %s attempt(s): %s", notification_id, row.attempts, outcome.detail
        )
        dead_letter(notification_id, error=outcome.detail, attempts=row.attempts, trace_id=row.trace_id)
    return outcome.state


@service_task
def notifications_deliver(notification_ids: list[str]) -> dict[str, int]:
    """First attempt of a batch of rows; each row to retry is handed to `notification_deliver` as its
    retry number 1, one to fail is dead-lettered. The count of each outcome."""
    from .services.dead_letters import dead_letter
    from .services.delivery import notifications_send

    counts: dict[str, int] = {}
    for notification_id, outcome in notifications_send(list(notification_ids)).items():
        counts[outcome.state] = counts.get(outcome.state, 0) + 1
        if outcome.state == "retry":
            notification_deliver.apply_async(
                args=[notification_id], countdown=backoff_with_full_jitter(0), retries=1
            )
        elif outcome.state == "failed":
            row = Notification.objects.get(pk=notification_id)
            log.error(
                "notification %s failed after %s attempt(s): %s",
                notification_id,
                row.attempts,
                outcome.detail,
            )
            dead_letter(notification_id, error=outcome.detail, attempts=row.attempts, trace_id=row.trace_id)
    return counts


@service_task(max_retries=0)
def notifications_sweep() -> int:
    """Beat: re-send rows left queued or sending past their lease (each send is claimed, so never twice)."""
    from .services.delivery import notifications_due

    due = notifications_due()
    for notification_id in due:
        notification_deliver.delay(notification_id)
    return len(due)
