"""/api/v1/catalog staff writes (route `catalog.write`), answering as the monolith does: the same bodies
(chassis.catalog_v1), rules and errors (chassis.catalog_rules), statuses and JSON. Reads stay as in v1.py;
the views here add the write methods to the same paths. Staff only on the gateway's signed identity
(api/identity.py): without one a write is 401 not_authenticated, with a customer's 403, as on the
monolith."""

from __future__ import annotations

import orjson
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.views import APIView

from chassis.catalog_v1 import CategoryCreateInput, ProductCreateInput, ProductUpdateInput, StockAdjustInput
from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from extracted.product_service import writes

from . import v1
from .identity import caller_is_staff
from .openapi import CategoryV1Output, ProductV1Output
from .pagination import page_request, paginated_body
from .render import category_v1, product_v1

READS = ("GET", "HEAD", "OPTIONS")


class IsStaffCaller(BasePermission):
    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        return caller_is_staff(request)


class StaffWritesMixin:
    """GET for everyone; every other method needs the staff role."""

    def get_permissions(self):
        return [AllowAny()] if self.request.method in READS else [IsStaffCaller()]


def _actor(request) -> int | None:
    return getattr(request.user, "user_id", None)


def _json(body: dict | None, status: int = 200) -> HttpResponse:
    if body is None:
        return HttpResponse(status=status)
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


class StockMovementV1Output(serializers.Serializer):
    id = serializers.IntegerField()
    delta = serializers.IntegerField()
    balance_after = serializers.IntegerField()
    reason = serializers.CharField()
    reference = serializers.CharField()
    actor_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class CategoryListCreateApi(StaffWritesMixin, v1.CategoryListApi):
    @extend_schema(
        operation_id="v1_catalog_categories_create",
        request=CategoryCreateInput,
        responses={201: CategoryV1Output, 400: ERROR, 409: ERROR},
    )
    def post(self, request):
        body = CategoryCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        return _json(category_v1(writes.category_create(**body.validated_data)), 201)


class ProductListCreateApi(StaffWritesMixin, v1.ProductListApi):
    @extend_schema(
        operation_id="v1_catalog_products_create",
        request=ProductCreateInput,
        responses={201: ProductV1Output, 400: ERROR, 409: ERROR},
    )
    def post(self, request):
        body = ProductCreateInput(data=request.data)
        body.is_valid(raise_exception=True)
        doc = writes.product_create(**body.validated_data, actor_id=_actor(request))
        return _json(product_v1(doc), 201)


class ProductDetailApi(StaffWritesMixin, v1.ProductDetailApi):
    @extend_schema(
        operation_id="v1_catalog_product_update",
        request=ProductUpdateInput,
        responses={200: ProductV1Output, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def patch(self, request, product_id: int):
        body = ProductUpdateInput(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return _json(product_v1(writes.product_update(product_id=product_id, data=body.validated_data)))

    @extend_schema(operation_id="v1_catalog_product_delete", responses={204: None, 404: ERROR})
    def delete(self, request, product_id: int):
        writes.product_deactivate(product_id=product_id)
        return _json(None, 204)


class ProductStockApi(APIView):
    """Staff stock adjustment by a signed delta; never below zero (409 insufficient_stock)."""

    permission_classes = [IsStaffCaller]

    @extend_schema(
        operation_id="v1_catalog_product_stock_create",
        request=StockAdjustInput,
        responses={200: ProductV1Output, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request, product_id: int):
        body = StockAdjustInput(data=request.data)
        body.is_valid(raise_exception=True)
        doc = writes.stock_adjust(product_id=product_id, **body.validated_data, actor_id=_actor(request))
        return _json(product_v1(doc))


class ProductStockMovementListApi(APIView):
    """A product's stock history made here, newest first (staff)."""

    permission_classes = [IsStaffCaller]

    @extend_schema(
        operation_id="v1_catalog_product_stock_movements_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(StockMovementV1Output, "StockMovementPageV1"), 404: ERROR},
    )
    def get(self, request, product_id: int):
        page = page_request(request.query_params)
        movements = writes.movement_list(product_id=product_id)

        def fetch(offset: int, limit: int):
            return movements.count(), list(movements[offset : offset + limit])

        return _json(paginated_body(request, page, fetch, writes.movement_document))
