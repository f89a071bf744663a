"""The saga's two consumers (chassis: idempotent, retried with backoff, dead-lettered):

- `order_service.saga_participants`: `order_saga.command.*` -> a port's adapter -> a reply (participants.py);
- `order_service.saga_orchestrator`: `order_saga.reply.*` -> the saga moves on (engine.saga_reply).
Run each with `python -m extracted.order_service consume <name>` (several copies may run).
"""

from __future__ import annotations

from chassis.consumers import EventConsumer
from contracts import saga as messages
from contracts.events import Envelope

from . import engine
from .participants import ACTIONS, handle_command


def on_reply(envelope: Envelope) -> None:
    data = messages.check(envelope.data, kind="reply")
    engine.saga_reply(
        saga_id=data["saga_id"],
        step=data["step"],
        attempt=data["attempt"],
        outcome=data["outcome"],
        result=data["result"],
    )


class SagaParticipantConsumer(EventConsumer):
    name = "order_service.saga_participants"
    bindings = (messages.COMMAND_PREFIX + "#",)
    handlers = {messages.COMMAND_PREFIX + action: handle_command for action in ACTIONS}


class SagaOrchestratorConsumer(EventConsumer):
    name = "order_service.saga_orchestrator"
    bindings = (messages.REPLY_PREFIX + "#",)
    handlers = {messages.REPLY_PREFIX + action: on_reply for action in ACTIONS}
