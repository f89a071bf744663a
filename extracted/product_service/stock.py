"""Stock events, and the stock-ownership rule at cutover.

Before cutover (PRODUCT_STOCK_OWNER=monolith) the monolith owns stock: its level arrives inside every
product document (catalog.product.upserted) and overwrites the service's copy; stock and order events are
acknowledged and left alone, or they would count a reservation twice. From cutover on
(PRODUCT_STOCK_OWNER=service) the service owns stock: document upserts keep the service's level
(store.upsert_products(preserve_stock=True)), and stock moves only through these handlers and the
/internal/v1/stock endpoints. At cutover the service starts from the monolith's last level (the last
upsert before the switch), which already counts the reservations of orders placed before it.

Handlers are plain functions of an event envelope (the consumer runs each once, in one transaction with
its processed-event row). A business refusal (out of stock, below zero) is logged and counted, not
retried: retrying cannot change the answer; transient errors raise and are retried, then dead-lettered.
"""

from __future__ import annotations

import logging

from chassis.metrics import counter
from contracts.events import Envelope
from extracted.product_service import services
from extracted.product_service.store.port import InsufficientStock, OutOfStock, StockLine

log = logging.getLogger(__name__)

STOCK_EVENTS = counter(
    "product_stock_events_total", "Stock and order events by type and outcome", ["type", "outcome"]
)


class InvalidStockEvent(ValueError):
    """The event's data is not the agreed shape (retried, then dead-lettered for a human)."""


def order_reference(order_id) -> str:
    return f"order-{order_id}"


def _int(data: dict, key: str, *, minimum: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidStockEvent(f"data.{key} must be an integer >= {minimum}, not {value!r}")
    return value


def _order_id(data: dict) -> str:
    order_id = data.get("order_id")
    if isinstance(order_id, bool) or not isinstance(order_id, int | str) or str(order_id) == "":
        raise InvalidStockEvent(f"data.order_id must be an id, not {order_id!r}")
    return str(order_id)


def _owned(envelope: Envelope) -> bool:
    if services.stock_owned_by_service():
        return True
    STOCK_EVENTS.labels(envelope.type, "monolith_owns_stock").inc()
    return False


def on_stock_adjusted(envelope: Envelope) -> None:
    """`{"product_id", "delta", "reference"?}`: applied once per reference (default: the event id)."""
    if not _owned(envelope):
        return
    data = envelope.data
    product_id, delta = _int(data, "product_id", minimum=1), data.get("delta")
    if isinstance(delta, bool) or not isinstance(delta, int):
        raise InvalidStockEvent(f"data.delta must be an integer, not {delta!r}")
    reference = str(data.get("reference") or f"event-{envelope.id}")
    try:
        services.stock_adjust(product_id=product_id, delta=delta, reference=reference)
    except InsufficientStock as exc:
        log.warning("stock.adjusted %s refused: %s", envelope.id, exc.message)
        STOCK_EVENTS.labels(envelope.type, "refused").inc()
        return
    STOCK_EVENTS.labels(envelope.type, "applied").inc()


def on_order_placed(envelope: Envelope) -> None:
    """`{"order_id", "lines": [{"product_id", "quantity"}]}`: reserve every line or none."""
    if not _owned(envelope):
        return
    data = envelope.data
    reference = order_reference(_order_id(data))
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        raise InvalidStockEvent("data.lines must be a non-empty list")
    wanted = []
    for line in lines:
        if not isinstance(line, dict):
            raise InvalidStockEvent("each line is an object")
        wanted.append(StockLine(_int(line, "product_id", minimum=1), _int(line, "quantity", minimum=1)))
    try:
        services.stock_reserve(reference=reference, lines=wanted)
    except OutOfStock as exc:
        log.warning("order.placed %s: %s", reference, exc.message)
        STOCK_EVENTS.labels(envelope.type, "out_of_stock").inc()
        return
    STOCK_EVENTS.labels(envelope.type, "applied").inc()


def on_order_cancelled(envelope: Envelope) -> None:
    """`{"order_id"}`: give the order's reservation back (once; an unknown order is a no-op)."""
    if not _owned(envelope):
        return
    reference = order_reference(_order_id(envelope.data))
    released = services.stock_release(reference=reference)
    STOCK_EVENTS.labels(envelope.type, "applied" if released else "unknown_order").inc()
