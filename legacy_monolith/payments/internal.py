"""/internal/v1/payments/tokenize|authorize|capture|void|refund: the monolith's payments as the Order
service's saga participant (bearer INTERNAL_API_TOKEN; services/saga.py does the work). A gateway that
cannot be reached is 503 `payment_gateway_unavailable` (the saga retries with the same key)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from acl_adapters.orders.translate import order_mirror_apply
from chassis.internal_auth import InternalAPIView
from chassis.orders_v1 import CardInput
from legacy_monolith.core.errors import ApplicationError, NotFoundError

from .gateways import CardDetails, GatewayUnavailable
from .services import saga

KEY = serializers.RegexField(r"^[A-Za-z0-9._:-]{8,100}$")


def _valid(serializer_class, request) -> dict:
    data = serializer_class(data=request.data)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _unavailable(exc: GatewayUnavailable) -> ApplicationError:
    return ApplicationError(
        "payment_gateway_unavailable", f"The payment gateway is unavailable: {exc}"[:200], status=503
    )


class TokenizeInput(serializers.Serializer):
    gateway = serializers.CharField(max_length=20, required=False, allow_null=True)
    user_id = serializers.IntegerField(min_value=1)
    card = CardInput()


class AuthorizeInput(serializers.Serializer):
    idempotency_key = KEY
    order = serializers.DictField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.CharField(max_length=3)
    card = serializers.DictField()
    client_ip = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class PaymentRefInput(serializers.Serializer):
    idempotency_key = KEY
    payment_id = serializers.CharField(allow_blank=True, max_length=64)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False)
    authorize_key = serializers.CharField(required=False, allow_blank=True, max_length=100)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    order_number = serializers.CharField(required=False, allow_blank=True, max_length=20)


class TokenizeApi(InternalAPIView):
    @extend_schema(exclude=True)  # internal: not part of the public API
    def post(self, request):
        data = _valid(TokenizeInput, request)
        try:
            return Response(
                saga.payment_tokenize(gateway=data.get("gateway"), card=CardDetails(**data["card"]))
            )
        except GatewayUnavailable as exc:
            raise _unavailable(exc) from exc


class AuthorizeApi(InternalAPIView):
    """Keeps the Order service's order here first (its copy, origin `service`), then authorizes."""

    @extend_schema(exclude=True)  # internal: not part of the public API
    def post(self, request):
        data = _valid(AuthorizeInput, request)
        order, _ = order_mirror_apply(data["order"])
        try:
            return Response(
                saga.payment_authorize(
                    order=order,
                    idempotency_key=data["idempotency_key"],
                    amount=data["amount"],
                    currency=data["currency"],
                    card=data["card"],
                    client_ip=data.get("client_ip") or None,
                )
            )
        except GatewayUnavailable as exc:
            raise _unavailable(exc) from exc


class _PaymentActionApi(InternalAPIView):
    def payment(self, data: dict):
        user_id = None
        if data.get("order_number"):
            user_id = (
                saga.Order.objects.filter(number=data["order_number"])
                .values_list("user_id", flat=True)
                .first()
            )
        return saga.payment_for_saga(
            payment_id=data["payment_id"], user_id=user_id, authorize_key=data.get("authorize_key", "")
        )

    @extend_schema(exclude=True)  # internal: not part of the public API
    def post(self, request):
        data = _valid(PaymentRefInput, request)
        try:
            return Response(self.act(self.payment(data), data))
        except GatewayUnavailable as exc:
            raise _unavailable(exc) from exc


class CaptureApi(_PaymentActionApi):
    def act(self, payment, data):
        if payment is None:
            raise NotFoundError("payment", data["payment_id"])
        return saga.payment_capture(payment=payment)


class VoidApi(_PaymentActionApi):
    def act(self, payment, data):
        return saga.payment_void(
            payment=payment,
            reason=data["reason"],
            refund_key=data["idempotency_key"],
            order_number=data.get("order_number", ""),
            authorize_key=data.get("authorize_key", ""),
        )


class RefundApi(_PaymentActionApi):
    def act(self, payment, data):
        if payment is None:
            return saga.outcome_of(None, "voided")
        return saga.payment_refund_for_saga(
            payment=payment, reason=data["reason"], idempotency_key=data["idempotency_key"]
        )
