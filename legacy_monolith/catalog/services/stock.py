"""Stock level changes. Every change locks the product row and writes one StockMovement whose
`balance_after` is the level right after it, so the history always adds up to the current stock."""

from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.db.transaction import TransactionManagementError

from chassis import catalog_rules as rules
from legacy_monolith.core.errors import ApplicationError, ConflictError, NotFoundError
from migrations_data.models import OutboxEvent

from ..models import Product, StockMovement

StockLines = list[tuple[int, int]]


def _merge_lines(lines: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Sum quantities per product id; reject non-positive quantities (a programming error upstream)."""
    merged: dict[int, int] = defaultdict(int)
    for product_id, quantity in lines:
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise ApplicationError(
                "invalid_quantity",
                "Stock quantities must be positive integers",
                extra={"product_id": product_id, "quantity": quantity},
            )
        merged[int(product_id)] += quantity
    return dict(merged)


def _lock_products(product_ids: Iterable[int]) -> dict[int, Product]:
    """SELECT ... FOR UPDATE in ascending id order, so two callers never lock in opposite orders."""
    products = Product.objects.select_for_update().filter(id__in=sorted(product_ids)).order_by("id")
    return {product.id: product for product in products}


def _require_atomic(name: str) -> None:
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(f"{name} must run inside transaction.atomic()")


def _apply(product: Product, *, delta: int, reason: str, reference: str, actor) -> StockMovement:
    """Write the new level and its movement; the caller holds the row lock."""
    rules.check_stock_ceiling(product.pk, product.stock, delta)
    product.stock += delta
    product.save(update_fields=["stock", "updated_at"])
    movement = StockMovement.objects.create(
        product=product,
        delta=delta,
        balance_after=product.stock,
        reason=reason,
        reference=reference[:64],
        actor=actor if actor is not None and actor.is_authenticated else None,
    )
    movement_outbox_write(movement)
    return movement


def movement_outbox_write(movement: StockMovement) -> None:
    """The movement's outbox row, in its transaction: the relay publishes it as `catalog.stock.moved` for
    the Product service's history (`sync products follow`)."""
    OutboxEvent.objects.create(
        entity=OutboxEvent.Entity.STOCK_MOVEMENT, entity_id=movement.pk, op="upsert", version=movement.pk
    )


def stock_reserve(*, lines: StockLines, reference: str, actor=None) -> None:
    """Take stock for an order: lock every product, check every line, then decrement each one.

    Must run inside the caller's transaction.atomic() so the locks are held until the order is written.
    Lines for the same product are summed into one RESERVATION movement.
    """
    _require_atomic("stock_reserve")
    wanted = _merge_lines(lines)
    products = _lock_products(wanted)
    for product_id, quantity in sorted(wanted.items()):
        product = products.get(product_id)
        if product is None or not product.is_active:
            raise ConflictError(
                "product_unavailable",
                f"Product {product_id} is not available for sale",
                extra={"product_id": product_id},
            )
        if product.stock < quantity:
            raise ConflictError(
                "out_of_stock",
                f"Only {product.stock} of product {product_id} left, {quantity} requested",
                extra={"product_id": product_id, "requested": quantity, "available": product.stock},
            )
    for product_id, quantity in sorted(wanted.items()):
        _apply(
            products[product_id],
            delta=-quantity,
            reason=StockMovement.Reason.RESERVATION,
            reference=reference,
            actor=actor,
        )


def stock_release(
    *, lines: StockLines, reference: str, reason: str = StockMovement.Reason.RELEASE, actor=None
) -> None:
    """Give reserved stock back (failed payment, cancellation, return). Inactive products take it back
    too; a product id that does not exist is a 404 product_not_found and nothing is released."""
    _require_atomic("stock_release")
    _validate_reason(reason)
    wanted = _merge_lines(lines)
    products = _lock_products(wanted)
    missing = sorted(set(wanted) - set(products))
    if missing:
        raise NotFoundError("product", missing[0])
    for product_id, quantity in sorted(wanted.items()):
        _apply(products[product_id], delta=quantity, reason=reason, reference=reference, actor=actor)


_validate_reason = rules.check_stock_reason


@transaction.atomic
def stock_adjust(*, product: Product, delta: int, reason: str, reference: str = "", actor=None) -> Product:
    """Staff change of the stock level by `delta` (restock, count correction, return).

    Not idempotent by nature (a delta is relative): a client that retries should read the movement
    history, where the reference it sent shows whether the first attempt landed. Returns the product
    as locked and updated; the instance passed in gets the new stock too.
    """
    rules.check_stock_delta(delta, reason)
    locked = (
        Product.objects.select_for_update(of=("self",))
        .select_related("category")
        .filter(pk=product.pk)
        .first()
    )
    if locked is None:
        raise NotFoundError("product", product.pk)
    rules.check_stock_limit(locked.pk, locked.stock, delta)
    _apply(locked, delta=delta, reason=reason, reference=reference, actor=actor)
    product.stock = locked.stock
    product.updated_at = locked.updated_at
    return locked
