"""/api/v1/catalog reads, answering exactly what the monolith answers (legacy_monolith/catalog/apis):
the same JSON, filters, pagination, errors and Content-Type. The staff writes on the same paths are
added in writes.py (route `catalog.write`)."""

import orjson
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.views import APIView

from chassis.catalog_filters import FILTER_PARAMETERS as SHARED_FILTER_PARAMETERS
from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from extracted.product_service import selectors
from extracted.product_service.store.port import ORDERINGS

from .filters import parse_product_query
from .identity import caller_is_staff
from .openapi import CategoryV1Output, ProductV1Output
from .pagination import page_request, paginated_body
from .render import category_v1, product_v1

JSON = "application/json"

FILTER_PARAMETERS = [
    *(parameter for parameter in SHARED_FILTER_PARAMETERS if parameter.name != "ordering"),
    OpenApiParameter("include_inactive", bool, description="staff only: always 403 here (api/identity.py)"),
]


def json_response(body: bytes, status: int = 200) -> HttpResponse:
    return HttpResponse(body, status=status, content_type=JSON)


class CategoryListApi(APIView):
    """Categories by name, then id, one page at a time."""

    @extend_schema(
        operation_id="v1_catalog_categories_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(CategoryV1Output, "CategoryPageV1"), 400: ERROR, 404: ERROR},
    )
    def get(self, request):
        page = page_request(request.query_params)

        def fetch(offset: int, limit: int):
            categories = selectors.catalog_store().list_categories()
            return len(categories), categories[offset : offset + limit]

        body = selectors.cached_listing(
            "v1-categories",
            request.build_absolute_uri(),
            lambda: paginated_body(request, page, fetch, category_v1),
        )
        return json_response(body)


class ProductListApi(APIView):
    """Active products, filtered, searched, sorted and paginated as the monolith does it."""

    @extend_schema(
        operation_id="v1_catalog_products_list",
        parameters=[
            *FILTER_PARAMETERS,
            OpenApiParameter("ordering", str, enum=list(ORDERINGS)),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(ProductV1Output, "ProductPageV1"), 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def get(self, request):
        query, _ = parse_product_query(request.query_params)
        if query.include_inactive and not caller_is_staff(request):
            raise PermissionDenied("include_inactive is for staff only")
        page = page_request(request.query_params)

        def fetch(offset: int, limit: int):
            docs, count = selectors.catalog_store().list_products(query, offset=offset, limit=limit)
            return count, docs

        body = selectors.cached_listing(
            "v1", request.build_absolute_uri(), lambda: paginated_body(request, page, fetch, product_v1)
        )
        return json_response(body)


class ProductDetailApi(APIView):
    """One active product."""

    @extend_schema(operation_id="v1_catalog_product_get", responses={200: ProductV1Output, 404: ERROR})
    def get(self, request, product_id: int):
        doc = selectors.product_document(product_id=product_id, include_inactive=caller_is_staff(request))
        return json_response(orjson.dumps(product_v1(doc)))
