"""Catalog endpoints. Reads are public (active products only); writes and stock history need staff.
Public reads go through `reads` (the Product service while its flag is on, with fallback to the tables)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.catalog_filters import FILTER_PARAMETERS
from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from legacy_monolith.accounts.permissions import IsStaffRole
from legacy_monolith.core.pagination import StandardPagination

from .. import reads, selectors, services
from .serializers import (
    CategoryCreateInput,
    CategoryOutput,
    ProductCreateInput,
    ProductOutput,
    ProductUpdateInput,
    StockAdjustInput,
    StockMovementOutput,
    parse_product_filters,
)

PRODUCT_FILTER_PARAMETERS = [
    *FILTER_PARAMETERS,
    OpenApiParameter("include_inactive", bool, description="staff only"),
    *PAGE_PARAMETERS,
]


def is_staff(request) -> bool:
    return IsStaffRole().has_permission(request, None)


def paginated(request, view, queryset, output_serializer) -> Response:
    paginator = StandardPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(output_serializer(page, many=True).data)


class StaffWritesMixin:
    """GET for everyone; every other method needs the staff role."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [AllowAny()]
        return [IsStaffRole()]


class CategoryListCreateApi(StaffWritesMixin, APIView):
    """Categories by name for everyone; staff create them (a taken slug is 409 category_exists)."""

    @extend_schema(
        operation_id="catalog_categories_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(CategoryOutput, "CategoryPage")},
    )
    def get(self, request):
        return paginated(request, self, reads.category_list(request=request), CategoryOutput)

    @extend_schema(request=CategoryCreateInput, responses={201: CategoryOutput, 400: ERROR, 409: ERROR})
    def post(self, request):
        serializer = CategoryCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        return Response(CategoryOutput(category).data, status=status.HTTP_201_CREATED)


class ProductListCreateApi(StaffWritesMixin, APIView):
    """Active products filtered, searched, sorted and paginated; staff create products."""

    @extend_schema(
        operation_id="catalog_products_list",
        parameters=PRODUCT_FILTER_PARAMETERS,
        responses={200: page_of(ProductOutput, "ProductPage"), 400: ERROR, 404: ERROR},
    )
    def get(self, request):
        filters = parse_product_filters(request.query_params)
        if filters.include_inactive and not is_staff(request):
            raise PermissionDenied("include_inactive is for staff only")
        return paginated(request, self, reads.product_list(request=request, filters=filters), ProductOutput)

    @extend_schema(request=ProductCreateInput, responses={201: ProductOutput, 400: ERROR, 409: ERROR})
    def post(self, request):
        serializer = ProductCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(**serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(StaffWritesMixin, APIView):
    """One product; staff patch it (never its stock) or deactivate it with DELETE."""

    @extend_schema(operation_id="catalog_product_get", responses={200: ProductOutput, 404: ERROR})
    def get(self, request, product_id: int):
        product = reads.product_get(
            request=request, product_id=product_id, include_inactive=is_staff(request)
        )
        return Response(ProductOutput(product).data)

    @extend_schema(request=ProductUpdateInput, responses={200: ProductOutput, 400: ERROR, 404: ERROR})
    def patch(self, request, product_id: int):
        serializer = ProductUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        product = selectors.product_get(product_id=product_id, include_inactive=True)
        product = services.product_update(product=product, data=serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data)

    @extend_schema(responses={204: None, 404: ERROR})
    def delete(self, request, product_id: int):
        services.product_deactivate(product_id=product_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductStockApi(APIView):
    """Staff stock adjustment by a signed delta; never below zero (409 insufficient_stock)."""

    permission_classes = [IsStaffRole]

    @extend_schema(
        request=StockAdjustInput, responses={200: ProductOutput, 400: ERROR, 404: ERROR, 409: ERROR}
    )
    def post(self, request, product_id: int):
        serializer = StockAdjustInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = selectors.product_get(product_id=product_id, include_inactive=True)
        product = services.stock_adjust(product=product, **serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data)


class ProductStockMovementListApi(APIView):
    """A product's stock history, newest first (staff)."""

    permission_classes = [IsStaffRole]

    @extend_schema(
        operation_id="catalog_product_stock_movements_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(StockMovementOutput, "StockMovementPage"), 404: ERROR},
    )
    def get(self, request, product_id: int):
        movements = selectors.stock_movement_list(product_id=product_id)
        return paginated(request, self, movements, StockMovementOutput)
