"""Tasks of the chassis test service: each attempt and each success leaves an outbox row to count."""

from django.db import transaction

from chassis.celery_app import TransientError, service_task
from chassis.outbox.writer import outbox_write


def _record(type_: str, data: dict) -> None:
    with transaction.atomic():
        outbox_write(type_, data)


@service_task(bind=True, max_retries=3, retry_backoff=0.2)
def widget_touch(self, widget_id: int, failures: int = 0) -> None:
    """Fails `failures` times with a TransientError, then records widget.touched."""
    attempt = self.request.retries + 1
    _record("widget.attempted", {"id": widget_id, "attempt": attempt})
    if attempt <= failures:
        raise TransientError(f"widget {widget_id}: attempt {attempt} of {failures} planned failures")
    _record("widget.touched", {"id": widget_id, "attempts": attempt})


@service_task
def widget_heartbeat() -> None:
    """The beat schedule's periodic task."""
    _record("widget.heartbeat", {})
