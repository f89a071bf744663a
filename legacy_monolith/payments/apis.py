"""/api/v1/payments: list and detail, staff refunds, provider webhooks."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR, PAGE_PARAMETERS, page_of
from contracts import payment as contract
from contracts.policies import Resource, Subject, policy_enforce
from legacy_monolith.accounts.permissions import IsStaffRole
from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.core.pagination import StandardPagination

from .models import Payment, Refund
from .selectors import payment_get, payment_list
from .services import payment_refund, webhook_process

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


class RefundOut(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = list(contract.V1_REFUND_FIELDS)


class PaymentOut(serializers.ModelSerializer):
    order_number = serializers.CharField(source="order.number")
    refunds = RefundOut(many=True)

    class Meta:
        model = Payment
        fields = list(contract.V1_PAYMENT_FIELDS)  # the contract the Payment service keeps too


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
        payments = payment_list(user=request.user, order_number=filters.validated_data.get("order"))
        paginator = StandardPagination()
        page = paginator.paginate_queryset(payments, request, view=self)
        return paginator.get_paginated_response(PaymentOut(page, many=True).data)


class PaymentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="payments_detail", responses={200: PaymentOut, 401: ERROR, 404: ERROR})
    def get(self, request, payment_id: int):
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
        responses={201: RefundOut, 200: OpenApiResponse(RefundOut, description="A replay of the same key")},
    )
    def post(self, request, payment_id: int):
        key = idempotency_key_from(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_get(user=request.user, payment_id=payment_id)
        amount = data.validated_data.get("amount")
        # ABAC (one policy module with the auth service): staff refund up to PAYMENT_STAFF_REFUND_LIMIT
        # (unset: no limit, as before), admins any amount; otherwise 403 policy_denied with the reason.
        policy_enforce(
            subject=Subject(
                id=str(request.user.pk),
                roles=(request.user.role,),
                # getattr: a checkout whose settings predate the limit refunds as before
                attributes={"refund_limit": getattr(settings, "PAYMENT_STAFF_REFUND_LIMIT", "") or None},
            ),
            action="payment.refund",
            resource=Resource(
                "payment",
                str(payment.pk),
                {"amount": amount if amount is not None else payment.amount - payment.amount_refunded},
            ),
        )
        refund = payment_refund(
            payment=payment,
            amount=amount,
            reason=data.validated_data["reason"],
            actor=request.user,
            idempotency_key=key,
        )
        replayed = getattr(refund, "replayed", False)
        return Response(
            RefundOut(refund).data, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED
        )


class WebhookApi(APIView):
    """Provider callbacks. No session or token: the HMAC signature over the raw body is the authentication."""

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
        responses={200: inline_serializer("WebhookResult", {"status": serializers.CharField()})},
        auth=[],
    )
    def post(self, request, gateway: str):
        result = webhook_process(
            gateway=gateway, body=request.body, signature=request.headers.get(SIGNATURE_HEADER)
        )
        return Response({"status": result})
