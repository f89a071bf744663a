"""Catalog endpoints. Reads are public (active products only); writes and stock history need staff."""

from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.accounts.permissions import IsStaffRole

from .. import selectors, services
from .pagination import StrictPagination
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


def is_staff(request) -> bool:
    return IsStaffRole().has_permission(request, None)


def paginated(request, view, queryset, output_serializer) -> Response:
    paginator = StrictPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(output_serializer(page, many=True).data)


class StaffWritesMixin:
    """GET for everyone; every other method needs the staff role."""

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [AllowAny()]
        return [IsStaffRole()]


class CategoryListCreateApi(StaffWritesMixin, APIView):
    def get(self, request):
        return paginated(request, self, selectors.category_list(), CategoryOutput)

    def post(self, request):
        serializer = CategoryCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        category = services.category_create(**serializer.validated_data)
        return Response(CategoryOutput(category).data, status=status.HTTP_201_CREATED)


class ProductListCreateApi(StaffWritesMixin, APIView):
    def get(self, request):
        filters = parse_product_filters(request.query_params)
        if filters.include_inactive and not is_staff(request):
            raise PermissionDenied("include_inactive is for staff only")
        return paginated(request, self, selectors.product_list(filters=filters), ProductOutput)

    def post(self, request):
        serializer = ProductCreateInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = services.product_create(**serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data, status=status.HTTP_201_CREATED)


class ProductDetailApi(StaffWritesMixin, APIView):
    def get(self, request, product_id: int):
        product = selectors.product_get(product_id=product_id, include_inactive=is_staff(request))
        return Response(ProductOutput(product).data)

    def patch(self, request, product_id: int):
        serializer = ProductUpdateInput(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        product = selectors.product_get(product_id=product_id, include_inactive=True)
        product = services.product_update(product=product, data=serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data)

    def delete(self, request, product_id: int):
        services.product_deactivate(product_id=product_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProductStockApi(APIView):
    permission_classes = [IsStaffRole]

    def post(self, request, product_id: int):
        serializer = StockAdjustInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        product = selectors.product_get(product_id=product_id, include_inactive=True)
        product = services.stock_adjust(product=product, **serializer.validated_data, actor=request.user)
        return Response(ProductOutput(product).data)


class ProductStockMovementListApi(APIView):
    permission_classes = [IsStaffRole]

    def get(self, request, product_id: int):
        movements = selectors.stock_movement_list(product_id=product_id)
        return paginated(request, self, movements, StockMovementOutput)
