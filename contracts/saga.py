"""The checkout saga's messages between the Order service's orchestrator and its participants.

They travel as event envelopes (contracts.events) on the events exchange, written to the outbox in the
transaction that decided them:
- a command: type `order_saga.command.<action>` (reserve_stock, release_stock, authorize_payment,
  capture_payment, void_payment, refund_payment), data `{saga_id, step, attempt, action, payload}`;
- its reply: type `order_saga.reply.<action>`, data `{saga_id, step, attempt, action, outcome, result}`.

`outcome` is the action's own word (reserved, released, authorized, captured, voided, refunded, pending), a
refusal (refused, declined, rejected_fraud, failed), `unavailable` (the backend could not be reached: the
orchestrator retries with backoff) or `superseded` (the saga had moved on when the command arrived: nothing
was done). A reply whose (step, attempt) is not the saga's current one is stale and ignored.
"""

from __future__ import annotations

from typing import Any

COMMAND_PREFIX = "order_saga.command."
REPLY_PREFIX = "order_saga.reply."
REFUSED = frozenset({"refused", "declined", "rejected_fraud", "failed"})
UNAVAILABLE = "unavailable"
SUPERSEDED = "superseded"
PENDING = "pending"


class InvalidSagaMessage(ValueError):
    """A saga message without the agreed shape (the consumer dead-letters it)."""


def command(*, saga_id: str, step: str, attempt: int, action: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"saga_id": saga_id, "step": step, "attempt": attempt, "action": action, "payload": payload}


def reply(command_data: dict[str, Any], *, outcome: str, result: dict[str, Any] | None = None) -> dict:
    return {
        "saga_id": command_data["saga_id"],
        "step": command_data["step"],
        "attempt": command_data["attempt"],
        "action": command_data["action"],
        "outcome": outcome,
        "result": result or {},
    }


def check(data: Any, *, kind: str) -> dict[str, Any]:
    """The data of a command or reply, checked for its fields; else InvalidSagaMessage."""
    fields = {"saga_id": str, "step": str, "attempt": int, "action": str}
    fields.update({"payload": dict} if kind == "command" else {"outcome": str, "result": dict})
    if not isinstance(data, dict):
        raise InvalidSagaMessage(f"a saga {kind} is a JSON object")
    for name, kind_type in fields.items():
        value = data.get(name)
        if not isinstance(value, kind_type) or isinstance(value, bool):
            raise InvalidSagaMessage(f"saga {kind} field {name!r} must be a {kind_type.__name__}")
    return data
