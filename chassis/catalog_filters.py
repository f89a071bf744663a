"""The /api/v1 product listing's query parameters: parsed alike by the monolith
(legacy_monolith/catalog/apis) and the Product service (extracted/product_service/api), and documented once
for both OpenAPI schemas. One copy, so a bad query gets the same 400 body from either side and the schemas
state exactly what both servers accept."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from .catalog_rules import (
    ATTRIBUTE_KEY_PATTERN,
    ATTRIBUTE_PARAM_PREFIX,
    MAX_CATEGORY_SLUG_LENGTH,
    MAX_FILTER_VALUE_LENGTH,
    ORDERINGS,
)
from .openapi import NOT_BLANK


class ProductFilterInput(serializers.Serializer):
    """GET /products query parameters other than attr.<name>, page and page_size."""

    category = serializers.CharField(max_length=MAX_CATEGORY_SLUG_LENGTH, required=False)
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


def filter_input(query_params, input_class: type[serializers.Serializer] = ProductFilterInput) -> dict:
    """The validated listing parameters (a 400 ValidationError otherwise)."""
    # A plain dict, not the QueryDict: DRF reads a missing boolean in a QueryDict as False.
    serializer = input_class(
        data={key: query_params[key] for key in input_class._declared_fields if key in query_params}
    )
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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


QUERY_TEXT = {
    "type": "string",
    "maxLength": MAX_FILTER_VALUE_LENGTH,
    "pattern": r"^[^\x00]*$",
}  # `q`, as a schema

# What ProductFilterInput accepts, as schemas: a category slug that is not blank, a search text without NUL.
FILTER_PARAMETERS = [
    OpenApiParameter(
        "category",
        {"type": "string", "maxLength": MAX_CATEGORY_SLUG_LENGTH, "pattern": NOT_BLANK},
        description="category slug; includes its direct children",
    ),
    OpenApiParameter("min_price", OpenApiTypes.DECIMAL),
    OpenApiParameter("max_price", OpenApiTypes.DECIMAL),
    OpenApiParameter("in_stock", bool),
    OpenApiParameter(
        "attr.<name>",
        str,
        description="attribute equals value (string, or the number/boolean it spells); repeat = any of",
    ),
    OpenApiParameter(
        "q",
        QUERY_TEXT,
        description="case-insensitive substring of name, description or sku",
    ),
    OpenApiParameter("ordering", str, enum=list(ORDERINGS)),
]
