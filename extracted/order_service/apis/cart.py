"""Cart, shipping quotes and coupons: /api/v1/orders/cart..., shipping/quote, coupons[/validate]."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.fields import MAX_BIGINT
from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from chassis.orders_v1 import (
    CartItemAddInput,
    CartItemSetInput,
    CouponCreateInput,
    CouponValidateInput,
    ShippingQuoteInput,
)
from chassis.pagination import StandardPagination
from contracts.errors import NotFoundError

from ..selectors import cart_get, cart_summary, coupon_list, coupon_quote_for_cart, shipping_quote
from ..services.cart import cart_clear, cart_item_add, cart_item_remove, cart_item_update
from ..services.coupons import coupon_create
from .serializers import CartOut, CouponOut, CouponQuoteOut, ShippingQuoteOut


class IsStaffRole(BasePermission):
    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        return bool(getattr(request.user, "is_authenticated", False) and request.user.is_staff_role)


def _cart_response(cart, status_code=status.HTTP_200_OK) -> Response:
    return Response(CartOut(cart_summary(cart=cart)).data, status=status_code)


def _path_product_id(product_id: int) -> int:
    if product_id > MAX_BIGINT:
        raise NotFoundError("cart_item", product_id)
    return product_id


class CartApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_cart_get", responses={200: CartOut})
    def get(self, request):
        return Response(CartOut(cart_get(user_id=request.user.id)).data)

    @extend_schema(operation_id="orders_cart_clear", responses={204: None})
    def delete(self, request):
        cart_clear(user_id=request.user.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CartItemsApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_cart_item_add",
        request=CartItemAddInput,
        responses={201: CartOut, 400: ERROR, 404: ERROR, 409: ERROR, 503: ERROR},
    )
    def post(self, request):
        data = CartItemAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_item_add(user_id=request.user.id, **data.validated_data)
        return _cart_response(cart, status.HTTP_201_CREATED)


class CartItemApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_cart_item_set",
        request=CartItemSetInput,
        responses={200: CartOut, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def put(self, request, product_id: int):
        data = CartItemSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_item_update(
            user_id=request.user.id,
            product_id=_path_product_id(product_id),
            quantity=data.validated_data["quantity"],
        )
        return _cart_response(cart)

    @extend_schema(operation_id="orders_cart_item_remove", responses={200: CartOut, 404: ERROR})
    def delete(self, request, product_id: int):
        return _cart_response(
            cart_item_remove(user_id=request.user.id, product_id=_path_product_id(product_id))
        )


class ShippingQuoteApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_shipping_quote",
        request=ShippingQuoteInput,
        responses={200: ShippingQuoteOut, 400: ERROR, 422: ERROR},
    )
    def post(self, request):
        data = ShippingQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        weight = args.get("weight_grams")
        if weight is None:
            weight = cart_get(user_id=request.user.id).total_weight_grams
        quote = shipping_quote(country=args["country"], postal_code=args["postal_code"], weight_grams=weight)
        return Response(ShippingQuoteOut(quote).data)


class CouponValidateApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_coupon_validate",
        request=CouponValidateInput,
        responses={200: CouponQuoteOut, 400: ERROR},
    )
    def post(self, request):
        data = CouponValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = coupon_quote_for_cart(user_id=request.user.id, code=data.validated_data["code"])
        return Response(CouponQuoteOut(quote).data)


class CouponsApi(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(
        operation_id="orders_coupon_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(CouponOut, "CouponPage")},
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(coupon_list(), request, view=self)
        return paginator.get_paginated_response(CouponOut(page, many=True).data)

    @extend_schema(
        operation_id="orders_coupon_create",
        request=CouponCreateInput,
        responses={201: CouponOut, 400: ERROR, 409: ERROR},
    )
    def post(self, request):
        data = CouponCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(CouponOut(coupon_create(**data.validated_data)).data, status=status.HTTP_201_CREATED)
