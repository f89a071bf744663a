"""The participant side of the saga: one command message in, one call to a port's adapter, one reply out.

Idempotent per (saga, action): a definitive answer is stored (ParticipantCall) and a redelivered command
gets it again without calling the backend; the backends key their own records by the command's idempotency
key or reference, so even a crash between their answer and our commit repeats nothing. Commands of one saga
are serialized on the saga's row lock, and a forward command that arrives after the saga turned to
compensation is `superseded` (not run), so a late reserve can never follow its release.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from chassis.outbox.writer import outbox_write
from contracts import saga as messages
from contracts.events import Envelope

from ..models import ParticipantCall, Saga
from ..participants.payments import (
    AuthorizePayment,
    CapturePayment,
    CardToken,
    ParticipantUnavailable,
    RefundPayment,
    VoidPayment,
    payment_adapter,
)
from ..participants.stock import StockPort, stock_participant, stock_port
from .steps import COMPENSATION_STEPS

log = logging.getLogger(__name__)


def _stock(payload: dict) -> StockPort:
    owner = payload.get("owner")
    return stock_port(owner) if owner in ("service", "monolith") else stock_participant()


def _step_deadline(saga: Saga, action: str) -> datetime | None:
    """When the orchestrator stops waiting for this step's reply (None: not this step's command)."""
    return saga.step_deadline if saga.step == action else None


def _reserve(saga: Saga, p: dict) -> tuple[str, dict]:
    deadline = _step_deadline(saga, "reserve_stock")
    outcome = _stock(p).reserve(reference=p["reference"], lines=p["lines"], deadline=deadline)
    if outcome.refused:
        return "refused", {"code": outcome.code, "message": outcome.message, "extra": outcome.extra or {}}
    return "reserved", {}


def _release(saga: Saga, p: dict) -> tuple[str, dict]:
    outcome = _stock(p).release(reference=p["reference"], deadline=_step_deadline(saga, "release_stock"))
    return ("released", {}) if not outcome.refused else ("refused", {"code": outcome.code})


def _payment(name: str, p: dict, call) -> tuple[str, dict]:
    outcome = call(payment_adapter(p["adapter"]))
    result = outcome.to_dict()
    result.pop("outcome")
    return outcome.outcome, result


def _authorize(saga: Saga, p: dict) -> tuple[str, dict]:
    command = AuthorizePayment(
        saga_id=str(saga.pk),
        idempotency_key=p["idempotency_key"],
        order=p["order"],
        amount=Decimal(p["amount"]),
        currency=p["currency"],
        card=CardToken(**{k: str(p["card"].get(k) or "") for k in CardToken.__dataclass_fields__}),
        client_ip=p.get("client_ip"),
        deadline=datetime.fromisoformat(p["deadline"]),
    )
    return _payment("authorize", p, lambda adapter: adapter.authorize(command))


def _capture(saga: Saga, p: dict) -> tuple[str, dict]:
    command = CapturePayment(
        saga_id=str(saga.pk),
        idempotency_key=p["idempotency_key"],
        order_number=p["order_number"],
        payment_id=p["payment_id"],
        amount=Decimal(p["amount"]),
        currency=p["currency"],
        deadline=datetime.fromisoformat(p["deadline"]),
    )
    return _payment("capture", p, lambda adapter: adapter.capture(command))


def _void(saga: Saga, p: dict) -> tuple[str, dict]:
    command = VoidPayment(
        saga_id=str(saga.pk),
        idempotency_key=p["idempotency_key"],
        order_number=p["order_number"],
        payment_id=p["payment_id"],
        authorize_key=p["authorize_key"],
        reason=p["reason"],
    )
    return _payment("void", p, lambda adapter: adapter.void(command))


def _refund(saga: Saga, p: dict) -> tuple[str, dict]:
    command = RefundPayment(
        saga_id=str(saga.pk),
        idempotency_key=p["idempotency_key"],
        order_number=p["order_number"],
        payment_id=p["payment_id"],
        amount=Decimal(p["amount"]),
        currency=p["currency"],
        reason=p["reason"],
    )
    return _payment("refund", p, lambda adapter: adapter.refund(command))


ACTIONS = {
    "reserve_stock": _reserve,
    "release_stock": _release,
    "authorize_payment": _authorize,
    "capture_payment": _capture,
    "void_payment": _void,
    "refund_payment": _refund,
}


def handle_command(envelope: Envelope) -> None:
    data = messages.check(envelope.data, kind="command")
    action = data["action"]
    if action not in ACTIONS:
        raise messages.InvalidSagaMessage(f"no participant for action {action!r}")
    saga = Saga.objects.select_for_update().filter(pk=data["saga_id"]).first()
    stored = ParticipantCall.objects.filter(saga_id=data["saga_id"], action=action).first()
    if stored is not None:
        outcome, result = stored.reply["outcome"], stored.reply["result"]
    elif saga is None or (saga.state != Saga.State.RUNNING and action not in COMPENSATION_STEPS):
        outcome, result = messages.SUPERSEDED, {"message": "the saga moved on before this command ran"}
    else:
        try:
            outcome, result = ACTIONS[action](saga, data["payload"])
        except ParticipantUnavailable as exc:
            log.warning("saga %s: %s unavailable: %s", data["saga_id"], action, exc)
            outcome, result = messages.UNAVAILABLE, {"message": str(exc)[:300]}
        if outcome not in (messages.UNAVAILABLE, messages.PENDING):
            ParticipantCall.objects.create(
                saga_id=data["saga_id"], action=action, reply={"outcome": outcome, "result": result}
            )
    outbox_write(
        messages.REPLY_PREFIX + action,
        messages.reply(data, outcome=outcome, result=result),
        trace_id=envelope.trace_id,
    )
