"""Input serializers check types and shapes only; the business rules live in the services.
Output serializers render the contract's JSON."""

from rest_framework import serializers

from chassis.catalog_filters import filter_input, parse_attribute_params
from chassis.catalog_v1 import (  # noqa: F401 (the write bodies, re-exported for the views)
    CategoryCreateInput,
    ProductCreateInput,
    ProductUpdateInput,
    StockAdjustInput,
)

from ..selectors import ProductFilters


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class CategoryOutput(CategoryRefOutput):
    parent_id = serializers.IntegerField(allow_null=True)


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    category = CategoryRefOutput()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()
    attributes = serializers.JSONField()
    image_urls = serializers.JSONField()
    stock = serializers.IntegerField()
    in_stock = serializers.SerializerMethodField()
    weight_grams = serializers.IntegerField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_in_stock(self, product) -> bool:
        return product.stock > 0


class StockMovementOutput(serializers.Serializer):
    id = serializers.IntegerField()
    delta = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    reason = serializers.CharField()
    reference = serializers.CharField()
    actor_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


def parse_product_filters(query_params) -> ProductFilters:
    data = filter_input(query_params)
    return ProductFilters(
        category=data.get("category") or None,
        min_price=data.get("min_price"),
        max_price=data.get("max_price"),
        in_stock=data.get("in_stock"),
        attributes=parse_attribute_params(query_params),
        q=data.get("q") or None,
        ordering=data.get("ordering", "id"),
        include_inactive=data.get("include_inactive", False),
    )
