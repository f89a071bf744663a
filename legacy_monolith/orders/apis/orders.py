"""Checkout, order history and cancellation: POST /checkout, GET /, GET /<number>, POST /<number>/cancel."""

import re

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.core.pagination import StandardPagination
from legacy_monolith.payments.gateways import CardDetails

from ..selectors import order_get, order_list
from ..services import ShippingAddress, order_cancel, order_checkout
from .fields import StrictCharField, StrictIntegerField, StrictRegexField
from .pricing import DestinationSerializer
from .schema import ERROR, IDEMPOTENCY_KEY_HEADER, PAGE_PARAMETERS, page_of
from .serializers import OrderOut

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def idempotency_key_from(request) -> str:
    """The Idempotency-Key header: required, 8 to 64 characters of [A-Za-z0-9._:-] (a UUID fits)."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApplicationError(
            "idempotency_key_required", "Checkout needs an Idempotency-Key header (e.g. a fresh UUID)"
        )
    if not IDEMPOTENCY_KEY.match(key):
        raise ApplicationError(
            "idempotency_key_invalid", "An Idempotency-Key is 8 to 64 characters of A-Z a-z 0-9 . _ : -"
        )
    return key


class ShippingInput(DestinationSerializer):
    name = StrictCharField(max_length=120)
    line1 = StrictCharField(max_length=200)
    city = StrictCharField(max_length=100)


class CardInput(serializers.Serializer):
    number = StrictRegexField(r"^[0-9 -]{12,23}$", error_messages={"invalid": "Not a card number"})
    exp_month = StrictIntegerField(min_value=1, max_value=12)
    exp_year = StrictIntegerField(min_value=2000, max_value=2100)
    cvc = StrictRegexField(r"^\d{3,4}$", error_messages={"invalid": "3 or 4 digits"})
    holder = StrictCharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_number(self, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if not 12 <= len(digits) <= 19:
            raise serializers.ValidationError("Not a card number")
        return digits


class PaymentInput(serializers.Serializer):
    gateway = StrictCharField(required=False, allow_null=True, max_length=20)
    card = CardInput()

    def validate_gateway(self, value: str | None) -> str | None:
        if value is not None and value not in settings.PAYMENT_GATEWAYS:
            raise serializers.ValidationError(f"One of: {', '.join(sorted(settings.PAYMENT_GATEWAYS))}")
        return value


class CheckoutApi(APIView):
    permission_classes = [IsAuthenticated]

    class CheckoutInput(serializers.Serializer):
        shipping = ShippingInput()
        coupon_code = StrictCharField(max_length=32, required=False, allow_null=True, allow_blank=True)
        payment = PaymentInput()

    @extend_schema(
        operation_id="orders_checkout",
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=CheckoutInput,
        responses={
            201: OrderOut,
            200: OrderOut,
            400: ERROR,
            402: ERROR,
            409: ERROR,
            422: ERROR,
            503: ERROR,
        },
    )
    def post(self, request):
        key = idempotency_key_from(request)
        data = self.CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        args = data.validated_data
        result = order_checkout(
            user=request.user,
            idempotency_key=key,
            shipping=ShippingAddress(**args["shipping"]),
            coupon_code=args.get("coupon_code") or None,
            card=CardDetails(**args["payment"]["card"]),
            gateway=args["payment"].get("gateway"),
            client_ip=request.META.get("REMOTE_ADDR"),
        )
        order = order_get(user=request.user, number=result.order.number)
        return Response(
            OrderOut(order).data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        )


class OrdersApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(OrderOut, "OrderPage")},
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(order_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrderOut(page, many=True).data)


class OrderApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_get", responses={200: OrderOut, 404: ERROR})
    def get(self, request, number: str):
        return Response(OrderOut(order_get(user=request.user, number=number)).data)


class OrderCancelApi(APIView):
    """Idempotent in effect: a second cancel finds the order cancelled and answers 409
    order_already_cancelled; the refund and the stock release never happen twice."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_cancel",
        request=None,
        responses={200: OrderOut, 404: ERROR, 409: ERROR, 503: ERROR},
    )
    def post(self, request, number: str):
        order = order_cancel(user=request.user, number=number)
        return Response(OrderOut(order_get(user=request.user, number=order.number)).data)
