"""The product listing's query parameters, parsed exactly as the monolith's /api/v1 parses them.

This is the contract's input side (legacy_monolith/catalog/apis/serializers.py and selectors.py): the same
DRF fields give the same validation messages, so a bad query answers the same 400 body. The service keeps
its own copy on purpose: it must not import the monolith's catalog app (its models).
"""

import re

from rest_framework import serializers

from extracted.product_service.store.port import ORDERINGS, ProductQuery

ATTRIBUTE_PARAM_PREFIX = "attr."
MAX_FILTER_VALUE_LENGTH = 200
ATTRIBUTE_KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


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


def parse_product_query(
    query_params, input_class: type[serializers.Serializer] = ProductFilterInput
) -> tuple[ProductQuery, dict]:
    """The store query of a listing request, and the input serializer's validated data (v2 reads more)."""
    # A plain dict, not the QueryDict: DRF reads a missing boolean in a QueryDict as False.
    serializer = input_class(
        data={key: query_params[key] for key in input_class._declared_fields if key in query_params}
    )
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    query = ProductQuery(
        category=data.get("category") or None,
        min_price=data.get("min_price"),
        max_price=data.get("max_price"),
        in_stock=data.get("in_stock"),
        attributes=parse_attribute_params(query_params),
        q=data.get("q") or None,
        ordering=data.get("ordering", "id"),
        include_inactive=data.get("include_inactive", False),
    )
    return query, data
