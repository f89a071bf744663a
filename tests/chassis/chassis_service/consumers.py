"""A consumer for the chassis tests: its effect is an outbox row, so tests can count effects."""

from chassis.consumers import EventConsumer
from chassis.outbox.writer import outbox_write
from contracts.events import Envelope

FAILURES_LEFT: dict[str, int] = {}  # event id -> failures still to raise (tests set it)


def record_widget(envelope: Envelope) -> None:
    outbox_write("widget.recorded", {"source_event": envelope.id}, trace_id=envelope.trace_id)
    left = FAILURES_LEFT.get(envelope.id, 0)
    if left:
        FAILURES_LEFT[envelope.id] = left - 1
        raise RuntimeError(f"widget store unavailable ({left} failure(s) left)")


class WidgetConsumer(EventConsumer):
    name = "widgets"  # tests give it a unique name
    bindings = ("widget.#",)
    handlers = {"widget.created": record_widget}
