"""Checkout, order history and cancellation: POST /checkout, GET /, GET /<number>, POST /<number>/cancel."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.orders_v1 import CheckoutInput, idempotency_key_from
from legacy_monolith.core.pagination import StandardPagination
from legacy_monolith.payments.gateways import CardDetails

from ..selectors import order_get, order_list
from ..services import ShippingAddress, order_cancel, order_checkout
from .schema import ERROR, IDEMPOTENCY_KEY_HEADER, PAGE_PARAMETERS, page_of
from .serializers import OrderOut


class CheckoutApi(APIView):
    permission_classes = [IsAuthenticated]

    CheckoutInput = CheckoutInput

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
