"""The /api/v1/catalog write bodies: served alike by the monolith (legacy_monolith/catalog/apis) and, while
route `catalog.write` moves them, by the Product service (extracted/product_service/api/writes.py). One
copy, so the two answers cannot drift. They check JSON types and shapes only; the rules are in
chassis.catalog_rules."""

from rest_framework import serializers

from .catalog_rules import STAFF_STOCK_REASONS


class CategoryCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    slug = serializers.CharField(max_length=140, required=False, allow_blank=True, default="")
    parent_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class ProductWriteFields(serializers.Serializer):
    """Shapes shared by create and update; required-ness differs."""

    sku = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=220, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    category_id = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField(max_length=3, required=False)
    attributes = serializers.JSONField(required=False)
    image_urls = serializers.JSONField(required=False)
    weight_grams = serializers.IntegerField(required=False)
    is_active = serializers.BooleanField(required=False)


class ProductCreateInput(ProductWriteFields):
    stock = serializers.IntegerField(required=False)


class ProductUpdateInput(ProductWriteFields):
    # Any value reaches the service, which answers stock_not_editable.
    stock = serializers.JSONField(required=False)


class StockAdjustInput(serializers.Serializer):
    delta = serializers.IntegerField()
    reason = serializers.ChoiceField(choices=list(STAFF_STOCK_REASONS))
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
