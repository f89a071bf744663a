"""Cart writes: add, set, remove, empty. Every write locks the cart row, so two tabs adding the same product
at once end with the sum; the product's facts come from the catalog (the Product service)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from contracts.errors import ApplicationError, ConflictError, NotFoundError
from contracts.pricing import MAX_LINE_QUANTITY

from ..catalog import ProductFacts, product_get
from ..models import Cart, CartItem


def _require_quantity(quantity: int) -> None:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ApplicationError(
            "invalid_quantity", "Quantity must be a positive whole number", extra={"quantity": quantity}
        )


def _locked_cart(user_id: int) -> Cart:
    try:
        with transaction.atomic():
            cart, _ = Cart.objects.get_or_create(user_id=user_id)
    except IntegrityError:  # a concurrent first write made it
        cart = Cart.objects.get(user_id=user_id)
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _sellable_product(product_id: int) -> ProductFacts:
    product = product_get(product_id)
    if product is None or not product.is_active:
        raise NotFoundError("product", product_id)
    return product


def _check_line(*, product: ProductFacts, quantity: int) -> None:
    if quantity > MAX_LINE_QUANTITY:
        raise ApplicationError(
            "cart_line_limit_exceeded",
            f"At most {MAX_LINE_QUANTITY} units of one product per order",
            extra={"product_id": product.id, "requested": quantity, "max_quantity": MAX_LINE_QUANTITY},
        )
    if quantity > product.stock:  # advisory: the saga's reservation is the check that counts
        raise ConflictError(
            "out_of_stock",
            f"Only {product.stock} of product {product.id} left, {quantity} requested",
            extra={"product_id": product.id, "requested": quantity, "available": product.stock},
        )


def _remember(line: CartItem, product: ProductFacts) -> None:
    line.sku, line.name, line.unit_price = product.sku, product.name, product.price
    line.currency, line.weight_grams = product.currency, product.weight_grams


def cart_item_add(*, user_id: int, product_id: int, quantity: int) -> Cart:
    _require_quantity(quantity)
    product = _sellable_product(product_id)  # outside the transaction: no lock held over HTTP
    with transaction.atomic():
        cart = _locked_cart(user_id)
        line = CartItem.objects.filter(cart=cart, product_id=product_id).first()
        wanted = (line.quantity if line else 0) + quantity
        _check_line(product=product, quantity=wanted)
        line = line or CartItem(cart=cart, product_id=product_id)
        line.quantity = wanted
        _remember(line, product)
        line.save()
        cart.save(update_fields=["updated_at"])
    return cart


def cart_item_update(*, user_id: int, product_id: int, quantity: int) -> Cart:
    _require_quantity(quantity)
    if not CartItem.objects.filter(cart__user_id=user_id, product_id=product_id).exists():
        raise NotFoundError("cart_item", product_id)
    product = product_get(product_id)
    with transaction.atomic():
        cart = _locked_cart(user_id)
        line = CartItem.objects.filter(cart=cart, product_id=product_id).first()
        if line is None:
            raise NotFoundError("cart_item", product_id)
        if product is None:  # no longer sold: none left to set a quantity of
            raise ConflictError(
                "out_of_stock",
                f"Only 0 of product {product_id} left, {quantity} requested",
                extra={"product_id": product_id, "requested": quantity, "available": 0},
            )
        _check_line(product=product, quantity=quantity)
        _remember(line, product)
        line.quantity = quantity
        line.save()
        cart.save(update_fields=["updated_at"])
    return cart


@transaction.atomic
def cart_item_remove(*, user_id: int, product_id: int) -> Cart:
    cart = _locked_cart(user_id)
    deleted, _ = CartItem.objects.filter(cart=cart, product_id=product_id).delete()
    if not deleted:
        raise NotFoundError("cart_item", product_id)
    cart.save(update_fields=["updated_at"])
    return cart


@transaction.atomic
def cart_clear(*, user_id: int) -> None:
    cart = Cart.objects.select_for_update().filter(user_id=user_id).first()
    if cart is not None:
        CartItem.objects.filter(cart=cart).delete()
        cart.save(update_fields=["updated_at"])
