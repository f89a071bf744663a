"""The checkout saga's orchestrator: its state machine, kept in the Order service's database.

Every decision happens in one transaction that locks the saga row: the state change, its transition row
(cause, trace id), the local steps, and the next command written to the outbox (the relay publishes it).
Within it the saga row is written once and its transition rows in one INSERT (`_flush`), however many
local steps the decision ran through.
Replies, timers and sweeps all come back here (`saga_reply`, `saga_retry_due`, `saga_sweep`), so a process
killed at any moment leaves a saga at its last recorded step, and whoever looks next carries on from there.

Retries: a step whose participant was unavailable, or that did not answer by its step deadline, is sent
again after an exponential backoff with full jitter (ORDER_SAGA_RETRY_BASE_SECONDS doubling, capped by
ORDER_SAGA_RETRY_MAX_SECONDS), at most ORDER_SAGA_MAX_ATTEMPTS times and never past the saga's deadline;
then the saga compensates. Compensation steps are retried until they succeed (they must finish); a saga
compensating for more than ORDER_SAGA_MAX_ATTEMPTS attempts of one step counts as stuck.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chassis.celery_app import enqueue_on_commit
from chassis.logging import trace_id_var
from chassis.outbox.writer import outbox_write
from contracts import saga as messages

from ..models import Order, Saga, SagaTransition
from . import local, metrics
from .steps import REMOTE, compensation_plan, forward_steps, next_forward

log = logging.getLogger(__name__)
ACTIVE = (Saga.State.RUNNING, Saga.State.COMPENSATING)
TERMINAL = (Saga.State.COMPLETED, Saga.State.COMPENSATED)


def _now() -> datetime:
    return timezone.now()


def _trace_id() -> str:
    current = trace_id_var.get()
    return uuid.uuid4().hex if current in ("-", "", None) else current


def backoff_seconds(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1))]."""
    ceiling = min(
        settings.ORDER_SAGA_RETRY_MAX_SECONDS, settings.ORDER_SAGA_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    )
    return random.uniform(0, ceiling)


def saga_start(*, order: Order, context: dict) -> Saga:
    """Inside the checkout transaction (the order exists, pending): record the saga and take its first
    remote step. `context` holds what later steps need (card token facts, client ip), never a card number."""
    now = _now()
    plan = forward_steps(with_coupon=order.coupon_id is not None, with_payment=order.total > 0)
    saga = Saga.objects.create(
        order=order,
        step="create_order",
        step_deadline=now,
        deadline=now + timedelta(seconds=settings.ORDER_SAGA_DEADLINE_SECONDS),
        trace_id=_trace_id(),
        context={**context, "plan": plan},
        done=["create_order"],
    )
    _transition(saga, "", "create_order", "checkout accepted; order created pending")
    metrics.STARTED.inc()
    local.order_event(order, "order.created")
    _advance(saga)
    _flush(saga)
    return saga


def saga_reply(*, saga_id: str, step: str, attempt: int | None, outcome: str, result: dict) -> bool:
    """A participant's answer. Stale answers (another step or attempt than the one in hand) are ignored.
    Returns whether the saga moved."""
    with transaction.atomic():
        saga = Saga.objects.select_for_update(of=("self",)).select_related("order").filter(pk=saga_id).first()
        if saga is None or saga.state not in ACTIVE or saga.step != step:
            return False
        moved = _reply(saga, step=step, attempt=attempt, outcome=outcome, result=result)
        if moved:
            _flush(saga)
        return moved


def _reply(saga: Saga, *, step: str, attempt: int | None, outcome: str, result: dict) -> bool:
    """The reply's decision (the caller holds the saga row lock and flushes the saga after)."""
    if (
        attempt is not None
        and attempt != saga.attempt
        and outcome in (messages.UNAVAILABLE, messages.PENDING)
    ):
        return False  # a late word about an attempt already given up on
    metrics.observe_step(saga, outcome)
    if outcome == messages.PENDING:
        _transition(saga, step, step, f"{step}: accepted, outcome pending")
        return True
    if outcome in (messages.UNAVAILABLE, messages.SUPERSEDED):
        _retry_or_give_up(saga, f"{step}: {outcome}: {result.get('message', '')}"[:300])
        return True
    if outcome in messages.REFUSED:
        if saga.state == Saga.State.COMPENSATING:
            # An undo was refused (should not happen: undos of nothing are no-ops): keep trying.
            _retry_or_give_up(saga, f"{step} refused during compensation: {result.get('code', '')}")
            return True
        local.record_result(saga, step, outcome, result)
        extra = {**(result.get("extra") or {}), "outcome": outcome}
        _compensate(
            saga,
            code=result.get("code") or outcome,
            message=result.get("message", ""),
            extra=extra,
            refused=True,
        )
        return True
    local.record_result(saga, step, outcome, result)
    if saga.state == Saga.State.COMPENSATING:
        saga.context = {**saga.context, "compensations": saga.context["compensations"][1:]}
    else:
        saga.done = [*saga.done, step]
    _transition(saga, step, step, f"{step}: {outcome}")
    _advance(saga)
    return True


def saga_retry_due(saga_id: str, step: str, attempt: int) -> None:
    """A retry's timer fired (Celery countdown): re-send the step if the saga still waits for it."""
    with transaction.atomic():
        saga = Saga.objects.select_for_update().filter(pk=saga_id).first()
        if saga is None or saga.state not in ACTIVE or (saga.step, saga.attempt) != (step, attempt):
            return
        if saga.next_attempt_at is not None:
            saga.next_attempt_at = None
            _send(saga)
            _flush(saga)


def saga_sweep(*, limit: int = 200) -> int:
    """Sagas whose step deadline passed, whose retry is due, or that are past their deadline: handled
    (the safety net under lost timers and lost messages; beat runs it every second). Returns how many."""
    now = _now()
    ids = list(
        Saga.objects.filter(state__in=ACTIVE, step_deadline__lte=now)
        .order_by("step_deadline")
        .values_list("pk", flat=True)[:limit]
    )
    for saga_id in ids:
        with transaction.atomic():
            saga = Saga.objects.select_for_update(skip_locked=True).filter(pk=saga_id).first()
            if saga is None or saga.state not in ACTIVE or saga.step_deadline > _now():
                continue
            if saga.next_attempt_at is not None:
                saga.next_attempt_at = None
                _send(saga)
            else:
                _retry_or_give_up(saga, f"{saga.step}: no answer by its deadline")
            _flush(saga)
    metrics.update_stuck()
    return len(ids)


def saga_retry_now(saga: Saga, *, cause: str) -> None:
    """An operator's `sagas retry`: send the step in hand again at once (attempts count on)."""
    with transaction.atomic():
        saga = Saga.objects.select_for_update().get(pk=saga.pk)
        if saga.state == Saga.State.FAILED:
            saga.state = Saga.State.COMPENSATING if saga.context.get("compensations") else Saga.State.RUNNING
        if saga.state not in ACTIVE:
            return
        saga.attempt += 1
        saga.next_attempt_at = None
        _transition(saga, saga.step, saga.step, cause)
        _send(saga)
        _flush(saga)


def saga_compensate_now(saga: Saga, *, cause: str) -> None:
    """An operator's `sagas compensate`: undo a running saga now."""
    with transaction.atomic():
        saga = Saga.objects.select_for_update().get(pk=saga.pk)
        if saga.state == Saga.State.RUNNING:
            _compensate(saga, code="cancelled_by_operator", message=cause, extra={}, refused=False)
            _flush(saga)


# --- internals (the caller holds the saga row lock, then calls _flush) -----------------------------------


def _flush(saga: Saga) -> None:
    """Write the saga row once and the transitions recorded since the last flush in one INSERT."""
    saga.save()
    pending = saga.__dict__.pop("_pending_transitions", [])
    if pending:
        SagaTransition.objects.bulk_create(pending)


def _advance(saga: Saga) -> None:
    """Run local steps until a remote one is sent, the saga completes, or a local step refuses."""
    while True:
        if saga.state == Saga.State.COMPENSATING:
            remaining = saga.context.get("compensations", [])
            step = remaining[0] if remaining else None
            if step is None:
                return _finish(saga, Saga.State.COMPENSATED, "compensation complete")
        else:
            step = next_forward(saga.context["plan"], saga.done)
            if step is None:
                return _finish(saga, Saga.State.COMPLETED, "order confirmed and paid")
        previous = saga.step
        saga.step, saga.attempt, saga.next_attempt_at = step, 1, None
        if step in REMOTE:
            _transition(saga, previous, step, f"sending {step}")
            return _send(saga)
        refusal = local.run_step(saga, step)
        if refusal is not None:
            _transition(saga, previous, step, f"{step} refused: {refusal['code']}")
            return _compensate(
                saga,
                code=refusal["code"],
                message=refusal["message"],
                extra=refusal.get("extra") or {},
                refused=True,
            )
        _transition(saga, previous, step, f"{step}: done")
        if saga.state == Saga.State.COMPENSATING:
            saga.context = {**saga.context, "compensations": saga.context["compensations"][1:]}
        else:
            saga.done = [*saga.done, step]


def _send(saga: Saga) -> None:
    now = _now()
    timeout = timedelta(seconds=settings.ORDER_SAGA_STEP_TIMEOUT_SECONDS)
    deadline = now + timeout
    if saga.state == Saga.State.RUNNING:
        deadline = min(deadline, saga.deadline)
    saga.step_deadline = deadline
    payload = local.command_payload(saga)  # may record what the step decided (the stock owner)
    data = messages.command(
        saga_id=str(saga.pk), step=saga.step, attempt=saga.attempt, action=saga.step, payload=payload
    )
    outbox_write(messages.COMMAND_PREFIX + saga.step, data, trace_id=saga.trace_id)


def _retry_or_give_up(saga: Saga, cause: str) -> None:
    forward = saga.state == Saga.State.RUNNING
    delay = backoff_seconds(saga.attempt)
    due = _now() + timedelta(seconds=delay)
    if forward and (saga.attempt >= settings.ORDER_SAGA_MAX_ATTEMPTS or due >= saga.deadline):
        _transition(saga, saga.step, saga.step, f"{cause}; giving up after {saga.attempt} attempt(s)")
        return _compensate(
            saga,
            code="step_timed_out",
            message=f"{saga.step} did not complete in time; nothing was charged",
            extra={"step": saga.step},
            refused=False,
        )
    saga.attempt += 1
    saga.next_attempt_at = due
    saga.step_deadline = due
    _transition(saga, saga.step, saga.step, f"{cause}; retry {saga.attempt} in {delay:.2f} s")
    metrics.RETRIES.labels(saga.step).inc()
    from ..tasks import saga_retry

    enqueue_on_commit(saga_retry, str(saga.pk), saga.step, saga.attempt, countdown=delay)


def _compensate(saga: Saga, *, code: str, message: str, extra: dict, refused: bool) -> None:
    plan = compensation_plan(done=list(saga.done), current=saga.step, current_refused=refused)
    saga.state = Saga.State.COMPENSATING
    saga.failure_code, saga.failure_message = code[:40], message[:300]
    saga.context = {
        **saga.context,
        "compensations": plan,
        "failure_extra": extra,
        "payment_reached": saga.step in ("authorize_payment", "confirm_order", "capture_payment")
        or "authorize_payment" in saga.done,
    }
    _transition(saga, saga.step, plan[0], f"compensating ({code}): {', '.join(plan)}")
    _advance(saga)


def _finish(saga: Saga, state: str, cause: str) -> None:
    saga.state, saga.finished_at, saga.next_attempt_at = state, _now(), None
    _transition(saga, saga.step, "", cause)
    metrics.finished(saga)


def _transition(saga: Saga, from_step: str, to_step: str, cause: str) -> None:
    """Record a move (written by `_flush`, in order, with the saga's state at that moment)."""
    saga.__dict__.setdefault("_pending_transitions", []).append(
        SagaTransition(
            saga=saga,
            from_step=from_step,
            to_step=to_step,
            state=saga.state,
            attempt=saga.attempt,
            cause=cause[:300],
            trace_id=saga.trace_id,
        )
    )
