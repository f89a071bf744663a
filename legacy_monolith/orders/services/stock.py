"""An order's stock, at whoever owns stock (PRODUCT_STOCK_OWNER).

`monolith` (before the stock cutover): the monolith's own tables, reference = the order number, as always.
`service` (from the cutover on): the Product service's /internal/v1/stock through acl_adapters.catalog.stock,
reference `order-<number>` (the saga's and the service's `order.*` consumers' convention, so an order is
never reserved twice); the monolith's own levels are not touched. A release goes where the reservation was
made: an order whose reservation is in the monolith's movements (placed before the cutover) gives it back
there. The Product service down or slow: 503 `stock_service_unavailable`, and nothing is taken.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from acl_adapters.catalog.stock import (
    StockRefused,
    StockServiceUnavailable,
    stock_client,
    stock_reference,
)
from chassis.metrics import counter
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.catalog.services import stock_release, stock_reserve
from legacy_monolith.core.errors import ApplicationError, ConflictError

log = logging.getLogger(__name__)

RELEASES_LEFT = counter(
    "monolith_stock_releases_left_total",
    "Releases at the Product service that could not be made (a reservation that landed stays held: "
    "undersold, never oversold; the order number is in the warning log)",
    [],
)


def stock_owned_by_service() -> bool:
    return settings.PRODUCT_STOCK_OWNER == "service"


def stock_service_unavailable(exc: Exception) -> ApplicationError:
    return ApplicationError(
        "stock_service_unavailable",
        "Stock could not be reserved right now; the order was not placed, try again later",
        extra={"reason": str(exc)[:200]},
        status=503,
    )


def order_stock_reserve(*, number: str, lines: list[tuple[Product, int]], actor) -> bool:
    """Take the order's stock at its owner, inside the checkout's transaction. True when it was taken at
    the Product service (the caller gives it back there if the transaction does not commit)."""
    if not stock_owned_by_service():
        stock_reserve(
            lines=[(product.id, quantity) for product, quantity in lines], reference=number, actor=actor
        )
        return False
    for product, _ in sorted(lines, key=lambda line: line[0].id):
        if not product.is_active:  # the monolith's own refusal, before asking the service
            raise ConflictError(
                "product_unavailable",
                f"Product {product.id} is not available for sale",
                extra={"product_id": product.id},
            )
    merged: dict[int, int] = {}
    for product, quantity in lines:
        merged[product.id] = merged.get(product.id, 0) + quantity
    try:
        stock_client().reserve(reference=stock_reference(number), lines=sorted(merged.items()))
    except StockRefused as refused:
        short = sorted(refused.extra.get("lines") or [], key=lambda line: line.get("product_id", 0))
        if refused.code == "out_of_stock" and short:
            first = short[0]
            pid, requested, available = first["product_id"], first["requested"], first["available"]
            raise ConflictError(
                "out_of_stock",
                f"Only {available} of product {pid} left, {requested} requested",
                extra={
                    "product_id": first["product_id"],
                    "requested": first["requested"],
                    "available": first["available"],
                },
            ) from None
        raise ConflictError(refused.code or "out_of_stock", refused.message, extra=refused.extra) from None
    except StockServiceUnavailable as exc:
        # The reserve may land after our timeout: release the reference, which also fences it at the
        # service (a reserve arriving later takes nothing). If the release cannot reach the service either,
        # a reserve that did land stays held (undersold, never oversold): logged and counted.
        order_stock_release_at_service(number=number)
        raise stock_service_unavailable(exc) from exc
    return True


def order_stock_release_at_service(*, number: str) -> bool:
    """Best effort, for a checkout that did not become an order: False when the service could not answer."""
    try:
        stock_client().release(reference=stock_reference(number))
    except StockServiceUnavailable as exc:
        log.warning("stock release of order %s at the Product service failed: %s", number, exc)
        RELEASES_LEFT.inc()
        return False
    return True


def _reserved_in_monolith(number: str) -> bool:
    return StockMovement.objects.filter(reference=number, reason=StockMovement.Reason.RESERVATION).exists()


def order_stock_release(*, order, lines: list[tuple[int, int]], actor, deferred: bool = False) -> None:
    """Give the order's stock back where it was taken, inside the caller's transaction.

    At the Product service: immediately (a failure raises 503 and the caller's transaction rolls back, so
    the customer may retry), or `deferred` until the caller's transaction commits (a compensation that must
    not be undone by the service being down: a release that fails then is logged and counted in
    monolith_stock_releases_left_total)."""
    if not stock_owned_by_service() or _reserved_in_monolith(order.number):
        stock_release(lines=lines, reference=order.number, reason=StockMovement.Reason.RELEASE, actor=actor)
        return
    if deferred:
        number = order.number
        transaction.on_commit(lambda: order_stock_release_at_service(number=number))
        return
    try:
        stock_client().release(reference=stock_reference(order.number))
    except StockServiceUnavailable as exc:
        raise stock_service_unavailable(exc) from exc
