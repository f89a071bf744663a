"""Product writes: staff create, partial update and deactivation. Stock is never set here directly:
it changes only through the stock functions, so the movement history stays complete."""

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from chassis import catalog_rules as v
from legacy_monolith.core.errors import NotFoundError

from ..models import Category, Product, StockMovement
from .stock import movement_outbox_write


def _category(category_id: Any) -> Category:
    category = Category.objects.filter(pk=category_id).first() if isinstance(category_id, int) else None
    if category is None:
        raise v.category_not_found(category_id)
    return category


_slug = v.product_slug
_sku_exists = v.sku_exists


def _save_unique_sku(product: Product, **save_kwargs) -> None:
    """Save, turning a lost race on the unique SKU into 409 sku_exists."""
    try:
        with transaction.atomic():
            product.save(**save_kwargs)
    except IntegrityError as exc:
        if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
            raise _sku_exists(product.sku) from exc
        raise


@transaction.atomic
def product_create(
    *,
    sku: str,
    name: str,
    category_id: int,
    price: Decimal | str,
    slug: str = "",
    description: str = "",
    currency: str = "EUR",
    attributes: dict[str, Any] | None = None,
    image_urls: list[str] | None = None,
    stock: int = 0,
    weight_grams: int = 0,
    is_active: bool = True,
    actor=None,
) -> Product:
    """Create a product; a non-zero initial stock is recorded as an INITIAL movement.

    Idempotent by the unique SKU: replaying a create answers 409 sku_exists.
    """
    sku = v.clean_sku(sku)
    name = v.clean_name(name)
    product = Product(
        sku=sku,
        name=name,
        slug=_slug(slug, name=name, sku=sku),
        description=description or "",
        category=_category(category_id),
        price=v.clean_price(price),
        currency=v.clean_currency(currency),
        attributes=v.clean_attributes({} if attributes is None else attributes),
        image_urls=v.clean_image_urls([] if image_urls is None else image_urls),
        stock=v.clean_count(stock, "stock", "invalid_stock"),
        weight_grams=v.clean_count(weight_grams, "weight_grams", "invalid_weight"),
        is_active=bool(is_active),
    )
    if Product.objects.filter(sku=sku).exists():
        raise _sku_exists(sku)
    _save_unique_sku(product)
    if product.stock:
        movement = StockMovement.objects.create(
            product=product,
            delta=product.stock,
            balance_after=product.stock,
            reason=StockMovement.Reason.INITIAL,
            actor=actor if actor is not None and actor.is_authenticated else None,
        )
        movement_outbox_write(movement)
    return product


_CLEANERS = {
    "sku": v.clean_sku,
    "name": v.clean_name,
    "price": v.clean_price,
    "currency": v.clean_currency,
    "attributes": v.clean_attributes,
    "image_urls": v.clean_image_urls,
    "weight_grams": lambda value: v.clean_count(value, "weight_grams", "invalid_weight"),
    "description": lambda value: value or "",
    "is_active": bool,
}


@transaction.atomic
def product_update(*, product: Product, data: dict[str, Any], actor=None) -> Product:
    """Change the given fields only (PATCH; setting the same values again changes nothing).

    `attributes` and `image_urls` are replaced as a whole. `stock` is refused with 400
    stock_not_editable: stock changes go through stock_adjust so every change has a movement.
    """
    v.check_update_fields(data)
    locked = Product.objects.select_for_update(of=("self",)).select_related("category").get(pk=product.pk)
    changed: list[str] = []
    for field, raw in data.items():
        if field == "category_id":
            category = _category(raw)
            if category.pk != locked.category_id:
                locked.category = category
                changed.append("category")
            continue
        value = _CLEANERS[field](raw) if field in _CLEANERS else raw
        if field == "slug":
            value = _slug(value, name=locked.name, sku=locked.sku) if value else locked.slug
        if getattr(locked, field) != value:
            setattr(locked, field, value)
            changed.append(field)
    if "sku" in changed and Product.objects.filter(sku=locked.sku).exclude(pk=locked.pk).exists():
        raise _sku_exists(locked.sku)
    if changed:
        _save_unique_sku(locked, update_fields=[*changed, "updated_at"])
    return locked


@transaction.atomic
def product_deactivate(*, product_id: int) -> Product:
    """Take a product off sale (staff DELETE). Rows stay for order history; repeating it is harmless."""
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFoundError("product", product_id)
    if product.is_active:
        product.is_active = False
        product.save(update_fields=["is_active", "updated_at"])
    return product
