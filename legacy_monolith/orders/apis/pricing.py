"""Quotes before checkout: POST /shipping/quote, POST /coupons/validate; staff GET/POST /coupons."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.orders_v1 import CouponCreateInput, CouponValidateInput, ShippingQuoteInput
from legacy_monolith.accounts.permissions import IsStaffRole
from legacy_monolith.core.pagination import StandardPagination

from ..selectors import cart_get, coupon_list, coupon_quote_for_cart, shipping_quote
from ..services import coupon_create
from .schema import ERROR, PAGE_PARAMETERS, page_of
from .serializers import CouponOut, CouponQuoteOut, ShippingQuoteOut


class ShippingQuoteApi(APIView):
    permission_classes = [IsAuthenticated]

    ShippingQuoteInput = ShippingQuoteInput

    @extend_schema(
        operation_id="orders_shipping_quote",
        request=ShippingQuoteInput,
        responses={200: ShippingQuoteOut, 400: ERROR, 422: ERROR},
    )
    def post(self, request):
        data = self.ShippingQuoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        weight = args.get("weight_grams")
        if weight is None:
            weight = cart_get(user=request.user).total_weight_grams
        quote = shipping_quote(country=args["country"], postal_code=args["postal_code"], weight_grams=weight)
        return Response(ShippingQuoteOut(quote).data)


class CouponValidateApi(APIView):
    permission_classes = [IsAuthenticated]

    CouponValidateInput = CouponValidateInput

    @extend_schema(
        operation_id="orders_coupon_validate",
        request=CouponValidateInput,
        responses={200: CouponQuoteOut, 400: ERROR},
    )
    def post(self, request):
        data = self.CouponValidateInput(data=request.data)
        data.is_valid(raise_exception=True)
        quote = coupon_quote_for_cart(user=request.user, code=data.validated_data["code"])
        return Response(CouponQuoteOut(quote).data)


class CouponsApi(APIView):
    permission_classes = [IsStaffRole]

    CouponCreateInput = CouponCreateInput

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
        data = self.CouponCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        coupon = coupon_create(**data.validated_data)
        return Response(CouponOut(coupon).data, status=status.HTTP_201_CREATED)
