"""The Product service's event consumers (chassis: idempotent, retried with backoff, dead-lettered).

- `product_service.catalog`: catalog.product.upserted|deleted and catalog.category.upserted from the
  monolith's outbox relay, applied through the store with the version rule (the service end of
  `sync products follow`): an older or equal version is a no-op, a tombstone beats every older upsert;
  catalog.stock.moved (a movement made on the monolith) into the stock history once per id, levels untouched.
- `product_service.stock`: stock.adjusted, order.placed|created (reserve), order.cancelled|failed
  (release); see stock.py for who owns stock before and after cutover.
Run one with `python -m extracted.product_service consume product_service.catalog`.
"""

from __future__ import annotations

from chassis.consumers import EventConsumer
from contracts import product as contract
from contracts.events import Envelope
from extracted.product_service import services, writes

from . import stock


def on_product_upserted(envelope: Envelope) -> None:
    services.products_import(products=[contract.validate_product(envelope.data)])


def on_product_deleted(envelope: Envelope) -> None:
    services.products_import(products=[], deleted=[contract.validate_tombstone(envelope.data)])


def on_category_upserted(envelope: Envelope) -> None:
    services.categories_import(categories=[contract.validate_category(envelope.data)])


def on_stock_moved(envelope: Envelope) -> None:
    """A movement into the history, once per id (the monolith's; this service's own are there already)."""
    writes.movements_import(movements=[contract.validate_movement(envelope.data)])


class CatalogConsumer(EventConsumer):
    name = "product_service.catalog"
    bindings = (
        "catalog.product.upserted",
        "catalog.product.deleted",
        "catalog.category.upserted",
        contract.STOCK_MOVED,
    )
    handlers = {
        "catalog.product.upserted": on_product_upserted,
        "catalog.product.deleted": on_product_deleted,
        "catalog.category.upserted": on_category_upserted,
        contract.STOCK_MOVED: on_stock_moved,
    }


class StockConsumer(EventConsumer):
    """The Order service publishes `order.created|confirmed|cancelled|failed` (contracts/orders.py): a
    created order reserves `order-<number>`, a cancelled or failed one releases it. The saga reserves and
    releases the same reference through /internal/v1/stock, so an event and a command never count twice."""

    name = "product_service.stock"
    bindings = ("stock.adjusted", "order.placed", "order.created", "order.cancelled", "order.failed")
    handlers = {
        "stock.adjusted": stock.on_stock_adjusted,
        "order.placed": stock.on_order_placed,
        "order.created": stock.on_order_placed,
        "order.cancelled": stock.on_order_cancelled,
        "order.failed": stock.on_order_cancelled,
    }
