"""Catalog reads, done the plain ORM way on purpose: this listing is the baseline the Product service
has to beat. No cache, no denormalized search column; just filters, icontains and indexes a team
would ordinarily have."""

import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.fields.json import KeyTransform

from chassis.catalog_rules import ORDERINGS
from legacy_monolith.core.errors import NotFoundError

from .models import Category, Product, StockMovement

_INTEGER = re.compile(r"^-?\d{1,18}$")
_DECIMAL = re.compile(r"^-?\d{1,18}\.\d{1,18}$")


@dataclass(frozen=True)
class ProductFilters:
    """What GET /products can ask for; every field is optional. `attributes` maps a name to the
    values any of which may match (query `attr.color=black&attr.color=white`)."""

    category: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)
    q: str | None = None
    ordering: str = "id"
    include_inactive: bool = False


def attribute_candidates(raw: str) -> list[Any]:
    """The JSON values a query-string value stands for: always the string itself, plus the number
    (`16`, `2.5`) or boolean (`true`/`false`) it spells, so `attr.ram_gb=16` matches 16 and "16"."""
    candidates: list[Any] = [raw]
    lowered = raw.lower()
    if lowered in ("true", "false"):
        candidates.append(lowered == "true")
    elif _INTEGER.match(raw):
        candidates.append(int(raw))
    elif _DECIMAL.match(raw) and math.isfinite(float(raw)):
        candidates.append(float(raw))
    return candidates


def _filter_attribute(queryset: QuerySet[Product], index: int, name: str, values: list[str]) -> QuerySet:
    """`attributes__<name>=value` for any of the values, each in its string and typed forms. The key
    goes through an explicit KeyTransform alias, so a name such as `contains` stays a key, never a
    lookup. Works on PostgreSQL (`attributes -> 'name' = '"v"'`) and on the demo's SQLite."""
    alias = f"attribute_{index}"
    condition = Q()
    for raw in values:
        for candidate in attribute_candidates(raw):
            condition |= Q(**{alias: candidate})
    return queryset.alias(**{alias: KeyTransform(name, "attributes")}).filter(condition)


def product_list(*, filters: ProductFilters) -> QuerySet[Product]:
    """Products matching every given filter, ordered by the whitelisted key then id (stable pages).

    `category` is a slug and includes the category's direct children (a laptop listing shows
    "gaming-laptops" too); an unknown slug matches nothing. `q` is icontains over name, description
    and sku. `in_stock=false` means stock is zero.
    """
    queryset = Product.objects.select_related("category")
    if not filters.include_inactive:
        queryset = queryset.filter(is_active=True)
    if filters.category:
        # A subquery on the small category table, so the filter is `category_id IN (...)` on the FK index.
        category_ids = Category.objects.filter(
            Q(slug=filters.category) | Q(parent__slug=filters.category)
        ).values("id")
        queryset = queryset.filter(category_id__in=category_ids)
    if filters.min_price is not None:
        queryset = queryset.filter(price__gte=filters.min_price)
    if filters.max_price is not None:
        queryset = queryset.filter(price__lte=filters.max_price)
    if filters.in_stock is True:
        queryset = queryset.filter(stock__gt=0)
    elif filters.in_stock is False:
        queryset = queryset.filter(stock=0)
    for index, (name, values) in enumerate(sorted(filters.attributes.items())):
        queryset = _filter_attribute(queryset, index, name, values)
    if filters.q:
        queryset = queryset.filter(
            Q(name__icontains=filters.q) | Q(description__icontains=filters.q) | Q(sku__icontains=filters.q)
        )
    ordering = filters.ordering if filters.ordering in ORDERINGS else "id"
    return queryset.order_by(*((ordering,) if ordering == "id" else (ordering, "id")))


def product_get(*, product_id: int, include_inactive: bool = False) -> Product:
    """One product; an inactive one is visible only when include_inactive (staff)."""
    queryset = Product.objects.select_related("category")
    if not include_inactive:
        queryset = queryset.filter(is_active=True)
    product = queryset.filter(pk=product_id).first()
    if product is None:
        raise NotFoundError("product", product_id)
    return product


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("name", "id")


def stock_movement_list(*, product_id: int) -> QuerySet[StockMovement]:
    """A product's stock history, newest first (404 product_not_found for an unknown product)."""
    if not Product.objects.filter(pk=product_id).exists():
        raise NotFoundError("product", product_id)
    return StockMovement.objects.filter(product_id=product_id).order_by("-created_at", "-id")
