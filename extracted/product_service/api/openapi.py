"""The shapes the API answers, for the OpenAPI schema only (render.py builds the answers themselves: plain
dicts are faster than serializers on the hot path)."""

from rest_framework import serializers


class CategoryRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class CategoryV1Output(CategoryRefOutput):
    parent_id = serializers.IntegerField(allow_null=True)


class CategoryV2Output(CategoryV1Output):
    version = serializers.IntegerField()


class ProductV1Output(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    description = serializers.CharField()
    category = CategoryRefOutput()
    price = serializers.CharField(help_text='a decimal string with 2 places, e.g. "12.34"')
    currency = serializers.CharField()
    attributes = serializers.DictField()
    image_urls = serializers.ListField(child=serializers.URLField())
    stock = serializers.IntegerField()
    in_stock = serializers.BooleanField()
    weight_grams = serializers.IntegerField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProductV2Output(ProductV1Output):
    version = serializers.IntegerField(help_text="the monolith's sync_version of this document")


class ProductSearchPage(serializers.Serializer):
    results = ProductV2Output(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="pass as `cursor` with the same filters")
    next = serializers.URLField(allow_null=True)
    facets = serializers.DictField(
        child=serializers.ListField(child=serializers.DictField()),
        help_text='{"category": [{id, slug, name, count}], "price": [{min, max, count}], '
        '"in_stock": [{value, count}], "attr.<name>": [{value, count}]}',
    )


class CategoryListV2(serializers.Serializer):
    results = CategoryV2Output(many=True)
