"""The shadow candidate's HTTP side (services/shadow.py): checkout copies and mirrored payment reads, for
requests the gateway marked `X-Strangler-Shadow: 1` only; anything else finds nothing here."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR
from chassis.orders_v1 import CheckoutInput
from chassis.orders_v1 import idempotency_key_from as checkout_key_from
from contracts import payment as contract

from ..errors import ApplicationError
from ..models import ShadowCharge
from ..services.shadow import shadow_checkout

SHADOW_HEADER = "X-Strangler-Shadow"
RECEIVED_HEADER = "X-Strangler-Shadow-Received"
RECEIVED_SKEW = dt.timedelta(minutes=5)  # a received time further from now than this is not believed


def is_shadow(request) -> bool:
    return request.headers.get(SHADOW_HEADER) == "1"


def received_at(request) -> dt.datetime | None:
    """When the gateway received the mirrored request (X-Strangler-Shadow-Received, Unix seconds), or None
    when absent, malformed or implausibly far from now."""
    try:
        seconds = float(request.headers.get(RECEIVED_HEADER, ""))
        received = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return received if abs(timezone.now() - received) <= RECEIVED_SKEW else None


def not_here() -> ApplicationError:
    return ApplicationError(
        "route_not_available",
        "The Payment service answers checkout only as a shadow candidate (X-Strangler-Shadow: 1)",
        status=404,
    )


class ShadowCheckoutApi(APIView):
    """POST /api/v1/orders/checkout, shadow copies only: the payment part of checkout, moving no money."""

    permission_classes = [IsAuthenticated]

    def initial(self, request, *args, **kwargs):
        if not is_shadow(request):
            raise not_here()
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="orders_checkout_shadow", request=CheckoutInput, responses={201: dict, 402: ERROR}
    )
    def post(self, request):
        key = checkout_key_from(request)
        data = CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not request.user.credential:
            raise ApplicationError(
                "shadow_credential_required", "A shadow copy carries the customer's credential", status=401
            )
        answer = shadow_checkout(
            user_id=request.user.user_id,
            credential=request.user.credential,
            key=key,
            checkout=data.validated_data,
            received=received_at(request),
        )
        return Response(answer.body, status=answer.status)


class ShadowPaymentOut(serializers.ModelSerializer):
    """A shadow charge in the v1 payment shape, under the legacy payment's id (the one the read names)."""

    id = serializers.IntegerField(source="legacy_payment_id")
    amount_refunded = serializers.SerializerMethodField()
    refunds = serializers.SerializerMethodField()

    class Meta:
        model = ShadowCharge
        fields = list(contract.V1_PAYMENT_FIELDS)

    def get_amount_refunded(self, charge) -> str:
        return "0.00"

    def get_refunds(self, charge) -> list:
        return []


def shadow_charges(user):
    """The shadow charges a marked read may see: a customer's own, staff all (as the real reads)."""
    charges = ShadowCharge.objects.exclude(legacy_payment_id=None).order_by("-created_at", "-id")
    return charges if getattr(user, "is_staff", False) else charges.filter(user_id=user.user_id)
