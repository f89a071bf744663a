"""Cart writes: add, set, remove, empty. Every write locks the cart row, so two tabs adding the same
product at once end with the sum, not with one of them lost."""

from django.db import transaction

from legacy_monolith.catalog.models import Product
from legacy_monolith.core.errors import ApplicationError, ConflictError, NotFoundError

from ..models import Cart, CartItem
from ..pricing import MAX_LINE_QUANTITY


def _require_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ApplicationError(
            "invalid_quantity", "Quantity must be a positive whole number", extra={"quantity": quantity}
        )


def _locked_cart(user) -> Cart:
    cart, _ = Cart.objects.get_or_create(user=user)
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _sellable_product(product_id: int) -> Product:
    """An active product; inactive ones are hidden from customers, so they are 404 like missing ones."""
    product = Product.objects.filter(pk=product_id, is_active=True).first()
    if product is None:
        raise NotFoundError("product", product_id)
    return product


def _check_line(*, product: Product, quantity: int) -> None:
    if quantity > MAX_LINE_QUANTITY:
        raise ApplicationError(
            "cart_line_limit_exceeded",
            f"At most {MAX_LINE_QUANTITY} units of one product per order",
            extra={"product_id": product.pk, "requested": quantity, "max_quantity": MAX_LINE_QUANTITY},
        )
    # Advisory: checkout re-checks under a row lock, and that check is the one that counts.
    if quantity > product.stock:
        raise ConflictError(
            "out_of_stock",
            f"Only {product.stock} of product {product.pk} left, {quantity} requested",
            extra={"product_id": product.pk, "requested": quantity, "available": product.stock},
        )


@transaction.atomic
def cart_item_add(*, user, product_id: int, quantity: int) -> Cart:
    """Add units of a product, merging into the existing line."""
    _require_quantity(quantity)
    cart = _locked_cart(user)
    product = _sellable_product(product_id)
    line = CartItem.objects.filter(cart=cart, product=product).first()
    wanted = (line.quantity if line else 0) + quantity
    _check_line(product=product, quantity=wanted)
    if line is None:
        CartItem.objects.create(cart=cart, product=product, quantity=wanted)
    else:
        line.quantity = wanted
        line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return cart


@transaction.atomic
def cart_item_update(*, user, product_id: int, quantity: int) -> Cart:
    """Set the quantity of a line already in the cart (PUT semantics: repeating it changes nothing)."""
    _require_quantity(quantity)
    cart = _locked_cart(user)
    line = CartItem.objects.select_related("product").filter(cart=cart, product_id=product_id).first()
    if line is None:
        raise NotFoundError("cart_item", product_id)
    _check_line(product=line.product, quantity=quantity)
    line.quantity = quantity
    line.save(update_fields=["quantity"])
    cart.save(update_fields=["updated_at"])
    return cart


@transaction.atomic
def cart_item_remove(*, user, product_id: int) -> Cart:
    """Remove a line; 404 cart_item_not_found when it is not there (the cart ends the same either way)."""
    cart = _locked_cart(user)
    deleted, _ = CartItem.objects.filter(cart=cart, product_id=product_id).delete()
    if not deleted:
        raise NotFoundError("cart_item", product_id)
    cart.save(update_fields=["updated_at"])
    return cart


@transaction.atomic
def cart_clear(*, user) -> None:
    """Empty the cart; idempotent."""
    cart = Cart.objects.select_for_update().filter(user=user).first()
    if cart is not None:
        CartItem.objects.filter(cart=cart).delete()
        cart.save(update_fields=["updated_at"])
