"""The product listing's query parameters, parsed exactly as the monolith's /api/v1 parses them.

This is the contract's input side: the fields and the attr.<name> parser are chassis.catalog_filters, the
monolith's own (legacy_monolith/catalog/apis/serializers.py), so a bad query answers the same 400 body.
"""

from rest_framework import serializers

from chassis.catalog_filters import (  # noqa: F401 (re-exported for v1 and v2)
    ATTRIBUTE_KEY_PATTERN,
    MAX_FILTER_VALUE_LENGTH,
    ProductFilterInput,
    filter_input,
    parse_attribute_params,
)
from extracted.product_service.store.port import ProductQuery


def parse_product_query(
    query_params, input_class: type[serializers.Serializer] = ProductFilterInput
) -> tuple[ProductQuery, dict]:
    """The store query of a listing request, and the input serializer's validated data (v2 reads more)."""
    data = filter_input(query_params, input_class)
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
