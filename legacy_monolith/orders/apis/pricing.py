"""Quotes before checkout: POST /shipping/quote, POST /coupons/validate; staff GET/POST /coupons."""

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.accounts.permissions import IsStaffRole
from legacy_monolith.core.pagination import StandardPagination

from ..models import Coupon
from ..pricing import postal_code_normalize
from ..selectors import cart_get, coupon_list, coupon_quote_for_cart, shipping_quote
from ..services import coupon_create
from .fields import StrictCharField, StrictIntegerField
from .schema import ERROR, PAGE_PARAMETERS, page_of
from .serializers import CouponOut, CouponQuoteOut, ShippingQuoteOut

MAX_PARCEL_GRAMS = 1_000_000


class CountryField(serializers.RegexField):
    """ISO 3166-1 alpha-2, any case in, upper case out."""

    def __init__(self, **kwargs):
        super().__init__(re.compile(r"^[A-Za-z]{2}$"), **kwargs)
        self.error_messages["invalid"] = "A two-letter ISO country code, e.g. FR"

    def to_internal_value(self, data):
        return super().to_internal_value(data).upper()


class DestinationSerializer(serializers.Serializer):
    """A country and a postal code that fits it (normalized: trimmed, upper case)."""

    country = CountryField()
    postal_code = StrictCharField(max_length=16)

    def validate(self, attrs):
        try:
            attrs["postal_code"] = postal_code_normalize(
                country=attrs["country"], postal_code=attrs["postal_code"]
            )
        except ValueError as exc:
            raise serializers.ValidationError({"postal_code": [str(exc)]}) from exc
        return attrs


class ShippingQuoteApi(APIView):
    permission_classes = [IsAuthenticated]

    class ShippingQuoteInput(DestinationSerializer):
        weight_grams = StrictIntegerField(min_value=0, max_value=MAX_PARCEL_GRAMS, required=False)

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

    class CouponValidateInput(serializers.Serializer):
        code = StrictCharField(max_length=32)

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

    class CouponCreateInput(serializers.Serializer):
        code = serializers.CharField(max_length=32)
        kind = serializers.ChoiceField(choices=Coupon.Kind.choices)
        value = serializers.DecimalField(max_digits=10, decimal_places=2)
        min_order_total = serializers.DecimalField(max_digits=10, decimal_places=2, required=False)
        valid_from = serializers.DateTimeField(required=False, allow_null=True)
        expires_at = serializers.DateTimeField(required=False, allow_null=True)
        usage_limit = StrictIntegerField(min_value=1, max_value=2**31 - 1, required=False, allow_null=True)
        is_active = serializers.BooleanField(required=False)

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
