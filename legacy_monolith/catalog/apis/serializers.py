"""Input serializers check types and shapes only; the business rules live in the services.
Output serializers render the contract's JSON."""

from rest_framework import serializers

from chassis.catalog_rules import ATTRIBUTE_KEY_PATTERN
from chassis.catalog_v1 import (  # noqa: F401 (the write bodies, re-exported for the views)
    CategoryCreateInput,
    ProductCreateInput,
    ProductUpdateInput,
    StockAdjustInput,
)

from ..selectors import ORDERINGS, ProductFilters

ATTRIBUTE_PARAM_PREFIX = "attr."
MAX_FILTER_VALUE_LENGTH = 200


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


class ProductFilterInput(serializers.Serializer):
    """GET /products query parameters other than attr.<name>, page and page_size."""

    category = serializers.CharField(max_length=140, required=False)
    min_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    max_price = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)
    in_stock = serializers.BooleanField(required=False)
    q = serializers.CharField(max_length=MAX_FILTER_VALUE_LENGTH, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(choices=ORDERINGS, required=False)
    include_inactive = serializers.BooleanField(required=False)

    def validate(self, data):
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"min_price": ["min_price is greater than max_price"]})
        return data


def parse_attribute_params(query_params) -> dict[str, list[str]]:
    """`attr.<name>=<value>` pairs, repeatable: values of one name are alternatives."""
    attributes: dict[str, list[str]] = {}
    errors: dict[str, list[str]] = {}
    for param, values in query_params.lists():
        if not param.startswith(ATTRIBUTE_PARAM_PREFIX):
            continue
        name = param[len(ATTRIBUTE_PARAM_PREFIX) :]
        if not ATTRIBUTE_KEY_PATTERN.match(name):
            errors[param] = ["Attribute names: a letter, then up to 63 letters, digits, '_' or '-'"]
        elif any(len(value) > MAX_FILTER_VALUE_LENGTH or "\x00" in value for value in values):
            errors[param] = [f"Attribute values are at most {MAX_FILTER_VALUE_LENGTH} characters, no NUL"]
        else:
            attributes[name] = values
    if errors:
        raise serializers.ValidationError(errors)
    return attributes


def parse_product_filters(query_params) -> ProductFilters:
    # A plain dict, not the QueryDict: DRF reads a missing boolean in a QueryDict as False.
    serializer = ProductFilterInput(
        data={key: query_params[key] for key in ProductFilterInput._declared_fields if key in query_params}
    )
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
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
