"""/api/v2/catalog: cursor pagination (opaque, tamper-checked), `limit`, faceted search and `q` full-text.

GET /api/v2/catalog/products answers `{"results", "next_cursor", "next", "facets"}`: the next page is asked
for with `cursor=<next_cursor>` and the same filters; `facets=category,price,in_stock,attr.<name>` (default
the first three) counts over the whole result set. Products render like v1 plus their `version`."""

import orjson
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from chassis.catalog_filters import QUERY_TEXT
from chassis.openapi import NOT_BLANK
from extracted.product_service import selectors
from extracted.product_service.store.port import (
    ATTRIBUTE_FACET_PREFIX,
    FACET_CATEGORY,
    FACET_IN_STOCK,
    FACET_PRICE,
    SEARCH_ORDERINGS,
)

from .cursor import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor
from .filters import ATTRIBUTE_KEY_PATTERN, ProductFilterInput, parse_product_query
from .identity import caller_is_staff
from .openapi import CategoryListV2, ProductSearchPage, ProductV2Output
from .render import category_v2, product_v2
from .v1 import ERROR, FILTER_PARAMETERS, json_response

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
DEFAULT_FACETS = (FACET_CATEGORY, FACET_PRICE, FACET_IN_STOCK)
MAX_FACETS = 10


class SearchInput(ProductFilterInput):
    ordering = serializers.ChoiceField(choices=SEARCH_ORDERINGS, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)
    cursor = serializers.CharField(max_length=MAX_CURSOR_LENGTH, required=False)
    facets = serializers.CharField(max_length=400, required=False, allow_blank=True)

    def validate_facets(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if len(names) > MAX_FACETS:
            raise serializers.ValidationError(f"At most {MAX_FACETS} facets")
        for name in names:
            known = name in DEFAULT_FACETS
            attribute = name.startswith(ATTRIBUTE_FACET_PREFIX) and ATTRIBUTE_KEY_PATTERN.match(
                name[len(ATTRIBUTE_FACET_PREFIX) :]
            )
            if not (known or attribute):
                raise serializers.ValidationError(
                    f"Unknown facet {name[:80]!r}: category, price, in_stock or attr.<name>"
                )
        return list(dict.fromkeys(names))


class ProductSearchApi(APIView):
    """Products by keyset cursor, with facet counts."""

    @extend_schema(
        operation_id="v2_catalog_products_search",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("q", QUERY_TEXT, description="full-text search over name, description and sku"),
            OpenApiParameter("ordering", str, enum=list(SEARCH_ORDERINGS)),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"1 to {MAX_LIMIT}, default {DEFAULT_LIMIT}",
            ),
            OpenApiParameter(
                "cursor",
                {"type": "string", "maxLength": MAX_CURSOR_LENGTH, "pattern": NOT_BLANK},
                description="next_cursor of the previous page (same filters)",
            ),
            OpenApiParameter(
                "facets", str, description="comma-separated: category, price, in_stock, attr.<name>"
            ),
        ],
        responses={200: ProductSearchPage, 400: ERROR, 403: ERROR},
    )
    def get(self, request):
        query, data = parse_product_query(request.query_params, SearchInput)
        if query.include_inactive and not caller_is_staff(request):
            raise PermissionDenied("include_inactive is for staff only")
        position = decode_cursor(data["cursor"], query) if "cursor" in data else None
        facets = data.get("facets", list(DEFAULT_FACETS))
        url = request.build_absolute_uri()

        def render() -> dict:
            page = selectors.catalog_store().search(
                query, cursor=position, limit=data["limit"], facets=facets
            )
            token = encode_cursor(page.next_cursor, query) if page.next_cursor else None
            return {
                "results": [product_v2(doc) for doc in page.items],
                "next_cursor": token,
                "next": replace_query_param(url, "cursor", token) if token else None,
                "facets": page.facets,
            }

        return json_response(selectors.cached_listing("v2", url, render))


class ProductDetailV2Api(APIView):
    """One active product, with its version."""

    @extend_schema(operation_id="v2_catalog_product_get", responses={200: ProductV2Output, 404: ERROR})
    def get(self, request, product_id: int):
        doc = selectors.product_document(product_id=product_id, include_inactive=caller_is_staff(request))
        return json_response(orjson.dumps(product_v2(doc)))


class CategoryListV2Api(APIView):
    """Every category (a small table: no pagination), by name then id."""

    @extend_schema(
        operation_id="v2_catalog_categories_list",
        responses={200: CategoryListV2},
    )
    def get(self, request):
        body = selectors.cached_listing(
            "v2-categories",
            "all",
            lambda: {"results": [category_v2(doc) for doc in selectors.catalog_store().list_categories()]},
        )
        return json_response(body)
