"""Checkout, history and cancellation: /api/v1/orders[/checkout|/<number>[/cancel]] and /api/v2/orders.

v1 checkout keeps the monolith's synchronous contract: it waits for the saga's outcome up to
ORDER_CHECKOUT_WAIT_SECONDS and answers as the monolith would (201 with the paid order, or the monolith's
error for the failure); past that deadline it answers **202** `{"number", "status", "url"}` with
`Location: /api/v2/orders/<number>`, where the outcome can be followed. v2 checkout answers 202 at once.
"""

from __future__ import annotations

import time

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from chassis.orders_v1 import IDEMPOTENCY_KEY_SCHEMA, CheckoutInput, idempotency_key_from
from chassis.pagination import StandardPagination
from chassis.pg_listen import NotificationHub

from ..models import Saga
from ..participants.payments import CardDetails
from ..selectors import order_get, order_list
from ..services.cancellation import order_cancel
from ..services.checkout import CheckoutResult, ShippingAddress, order_checkout
from ..services.outcomes import checkout_error
from .serializers import OrderOut, OrderV2Out

SAGA_FINISHED_CHANNEL = "order_saga_finished"  # NOTIFYed by the saga row's trigger (migration 0002)
ACCEPTED = inline_serializer(
    "CheckoutAccepted",
    {"number": serializers.CharField(), "status": serializers.CharField(), "url": serializers.CharField()},
)
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": IDEMPOTENCY_KEY_SCHEMA,
    "description": "8 to 64 of [A-Za-z0-9._:-]; a replay returns the first outcome, never a new charge",
}


def _checkout(request) -> CheckoutResult:
    key = idempotency_key_from(request)
    data = CheckoutInput(data=request.data)
    data.is_valid(raise_exception=True)
    args = data.validated_data
    return order_checkout(
        user_id=request.user.id,
        idempotency_key=key,
        shipping=ShippingAddress(**args["shipping"]),
        coupon_code=args.get("coupon_code") or None,
        card=CardDetails(**args["payment"]["card"]),
        gateway=args["payment"].get("gateway"),
        client_ip=request.META.get("REMOTE_ADDR"),
    )


def _accepted(order) -> Response:
    url = f"/api/v2/orders/{order.number}"
    return Response(
        {"number": order.number, "status": order.status, "url": url},
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": url},
    )


_finished = NotificationHub(SAGA_FINISHED_CHANNEL)


def saga_outcome(order, *, wait_seconds: float) -> str | None:
    """Wait for the order's saga to finish; its final state, or None past the wait.

    PostgreSQL: woken by the saga row's NOTIFY (migration 0002) and the row read then, and at least every
    second in case a notification was lost. Otherwise (SQLite, or no LISTEN connection) the row is polled
    every 10 ms, backing off to 100 ms."""
    deadline = time.monotonic() + wait_seconds
    key = str(order.pk)
    woken = _finished.subscribe(key)  # before the first read: a finish from now on is not missed
    try:
        pause = 0.01
        while True:
            state = Saga.objects.filter(order_id=order.pk).values_list("state", flat=True).first()
            if state in (Saga.State.COMPLETED, Saga.State.COMPENSATED):
                return state
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if _finished.listening:
                woken.wait(min(left, 1.0))
                woken.clear()
            else:
                time.sleep(min(pause, left))
                pause = min(pause * 1.5, 0.1)
    finally:
        _finished.unsubscribe(key, woken)


class CheckoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_checkout",
        parameters=[IDEMPOTENCY],
        request=CheckoutInput,
        responses={
            201: OrderOut,
            200: OrderOut,
            202: OpenApiResponse(
                ACCEPTED,
                description="The saga did not finish within "
                "ORDER_CHECKOUT_WAIT_SECONDS: follow Location (/api/v2/orders/<number>)",
            ),
            400: ERROR,
            402: ERROR,
            409: ERROR,
            422: ERROR,
            503: ERROR,
        },
        description="Synchronous like the monolith's checkout, up to a deadline: see the 202 answer.",
    )
    def post(self, request):
        result = _checkout(request)
        if not result.created:
            return Response(OrderOut(order_get(user_id=request.user.id, number=result.order.number)).data)
        outcome = saga_outcome(result.order, wait_seconds=settings.ORDER_CHECKOUT_WAIT_SECONDS)
        order = order_get(user_id=request.user.id, number=result.order.number, include_rejected=True)
        if outcome == Saga.State.COMPLETED:
            return Response(OrderOut(order).data, status=status.HTTP_201_CREATED)
        if outcome == Saga.State.COMPENSATED:
            raise checkout_error(order)
        return _accepted(order)


class OrdersApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(OrderOut, "OrderPage")},
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(order_list(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(OrderOut(page, many=True).data)


class OrderApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_get", responses={200: OrderOut, 404: ERROR})
    def get(self, request, number: str):
        return Response(OrderOut(order_get(user_id=request.user.id, number=number)).data)


class OrderCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_cancel",
        request=None,
        responses={200: OrderOut, 404: ERROR, 409: ERROR, 503: ERROR},
    )
    def post(self, request, number: str):
        order = order_cancel(user_id=request.user.id, number=number)
        return Response(OrderOut(order_get(user_id=request.user.id, number=order.number)).data)


class OrdersV2Api(APIView):
    """POST: asynchronous checkout (202 + Location at once); GET: the caller's orders, failed ones too."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="orders_v2_checkout",
        parameters=[IDEMPOTENCY],
        request=CheckoutInput,
        responses={202: ACCEPTED, 200: OrderV2Out, 400: ERROR, 409: ERROR, 422: ERROR, 503: ERROR},
    )
    def post(self, request):
        result = _checkout(request)
        if not result.created:
            return Response(OrderV2Out(result.order).data)
        return _accepted(result.order)

    @extend_schema(
        operation_id="orders_v2_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_of(OrderV2Out, "OrderV2Page")},
    )
    def get(self, request):
        paginator = StandardPagination()
        orders = order_list(user_id=request.user.id, include_rejected=True).select_related("saga")
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(OrderV2Out(page, many=True).data)


class OrderV2Api(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_v2_get", responses={200: OrderV2Out, 404: ERROR})
    def get(self, request, number: str):
        order = order_get(user_id=request.user.id, number=number, include_rejected=True)
        return Response(OrderV2Out(order).data)
