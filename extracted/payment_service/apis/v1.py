"""/api/v1/payments: the monolith's contract, answered by the Payment service (list and detail, staff
refunds with the ABAC limit, provider webhooks). Same paths, status codes, bodies, error codes and
Idempotency-Key behaviour; `tests/e2e/test_payments_contract.py` compares both processes."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from chassis.pagination import StandardPagination
from contracts import payment as contract
from contracts.policies import Resource, Subject, policy_enforce

from ..errors import ApplicationError, NotFoundError
from ..models import Payment, Refund
from ..selectors import payment_get, payment_list
from ..services.refunds import payment_refund
from ..services.webhooks import webhook_process
from . import shadow

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
SIGNATURE_HEADER = "X-Sandbox-Signature"


def idempotency_key_from(request) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApplicationError("idempotency_key_required", "Refunds need an Idempotency-Key header")
    if not IDEMPOTENCY_KEY.match(key):
        raise ApplicationError(
            "idempotency_key_invalid", "An Idempotency-Key is 8 to 64 characters of A-Z a-z 0-9 . _ : -"
        )
    return key


class IsStaffRole(BasePermission):
    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        return bool(request.user and getattr(request.user, "is_staff", False))


class RefundOut(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = list(contract.V1_REFUND_FIELDS)


class PaymentOut(serializers.ModelSerializer):
    refunds = RefundOut(many=True)

    class Meta:
        model = Payment
        fields = list(contract.V1_PAYMENT_FIELDS)


class PaymentsApi(APIView):
    permission_classes = [IsAuthenticated]

    class FilterSerializer(serializers.Serializer):
        order = serializers.CharField(max_length=20, required=False)

    @extend_schema(
        operation_id="payments_list",
        parameters=[
            OpenApiParameter("order", str, description="Only the payments of this order number"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_of(PaymentOut, "PaymentPage"), 400: ERROR, 401: ERROR, 404: ERROR},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        order = filters.validated_data.get("order")
        if shadow.is_shadow(request):  # a mirrored read: what the shadow copies decided, nothing real
            charges = shadow.shadow_charges(request.user)
            charges = charges.filter(order_number=order) if order else charges
            paginator = StandardPagination()
            page = paginator.paginate_queryset(charges, request, view=self)
            return paginator.get_paginated_response(shadow.ShadowPaymentOut(page, many=True).data)
        payments = payment_list(user=request.user, order_number=order)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentOut(page, many=True).data)


class PaymentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="payments_detail", responses={200: PaymentOut, 401: ERROR, 404: ERROR})
    def get(self, request, payment_id: int):
        if shadow.is_shadow(request):
            charge = shadow.shadow_charges(request.user).filter(legacy_payment_id=payment_id).first()
            if charge is None:
                raise NotFoundError("payment", payment_id)
            return Response(shadow.ShadowPaymentOut(charge).data)
        return Response(PaymentOut(payment_get(user=request.user, payment_id=payment_id)).data)


class PaymentRefundsApi(APIView):
    permission_classes = [IsStaffRole]

    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(
            max_digits=12, decimal_places=2, min_value=Decimal("0.01"), required=False, allow_null=True
        )
        reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    @extend_schema(
        operation_id="payments_refund",
        request=InputSerializer,
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        responses={
            201: RefundOut,
            200: OpenApiResponse(RefundOut, description="A replay of the same key"),
            400: ERROR,
            403: ERROR,
            404: ERROR,
            409: ERROR,
            502: ERROR,
            503: ERROR,
        },
    )
    def post(self, request, payment_id: int):
        if shadow.is_shadow(request):
            raise shadow.not_here()
        key = idempotency_key_from(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_get(user=request.user, payment_id=payment_id)
        amount = data.validated_data.get("amount")
        # ABAC, the same policy module as the monolith and the Auth service (contracts.policies): staff
        # refund up to PAYMENT_STAFF_REFUND_LIMIT (unset: no limit), admins any amount.
        policy_enforce(
            subject=Subject(
                id=str(request.user.user_id),
                roles=request.user.roles,
                attributes={"refund_limit": settings.PAYMENT_STAFF_REFUND_LIMIT or None},
            ),
            action="payment.refund",
            resource=Resource(
                "payment",
                str(payment.pk),
                {"amount": amount if amount is not None else payment.amount - payment.amount_refunded},
            ),
        )
        outcome = payment_refund(
            payment_id=payment.pk,
            amount=amount,
            reason=data.validated_data["reason"],
            idempotency_key=key,
            actor_id=request.user.user_id,
            actor=f"user:{request.user.user_id}",
        )
        return Response(
            RefundOut(outcome.refund).data,
            status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED,
        )


class WebhookApi(APIView):
    """Provider callbacks: no session or token, the HMAC signature over the raw body authenticates."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="payments_webhook",
        request={"application/json": dict},
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="t=<unix ts>,v1=<hex>",
            )
        ],
        responses={200: inline_serializer("WebhookResult", {"status": serializers.CharField()}), 401: ERROR},
        auth=[],
    )
    def post(self, request, gateway: str):
        result = webhook_process(
            gateway=gateway, body=request.body, signature=request.headers.get(SIGNATURE_HEADER)
        )
        # The monolith's answer: "processed", or "duplicate" for an event id seen before. An event kept
        # for later (deferred) or about nothing of ours is acknowledged the same way.
        return Response({"status": "duplicate" if result == "duplicate" else "processed"})
