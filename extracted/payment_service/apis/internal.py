"""/internal/v1 (bearer INTERNAL_API_TOKEN): the asynchronous charge API the Order service's saga uses.

    POST /internal/v1/cards                     a card -> {card_id, ...}: tokenized now, the number dropped
    POST /internal/v1/payments                  Idempotency-Key (or `idempotency_key` in the body); a charge
                                                -> 202 {id, status, status_url}
    GET  /internal/v1/payments/<id>             the status document (also what events carry)
    GET  /internal/v1/payments?order_number=N   the order's payments, newest first
    POST /internal/v1/payments/<id>/capture     -> 202: capture the authorization (idempotent)
    POST /internal/v1/payments/<id>/cancel      -> 202: void, refund or stop it (the compensation)
    POST /internal/v1/payments/<id>/refunds     Idempotency-Key; {amount?, reason?} -> 201 (200: replay)
    POST /internal/v1/payments/voids            {order_number, authorize_key, reason?} -> 200 {results}:
                                                cancel the charge made with that key; none yet: it is voided
                                                when it arrives (the void of a caller that never heard back)

A charge answers 202 at once: antifraud and the provider calls run in a worker; the outcome arrives as a
`payment.authorized|captured|failed` event and at the status endpoint. With `capture: false` the payment
stops at `authorized` until a capture or a cancel.
"""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers, status
from rest_framework.response import Response

from chassis.internal_auth import InternalAPIView
from chassis.internal_inputs import StrictSerializer, validated
from contracts.payment import money

from ..errors import ApplicationError, NotFoundError
from ..models import Payment
from ..providers import CardDetails, CardRejected, ProviderUnavailable
from ..services.cards import card_register
from ..services.charges import ChargeRequest, payment_submit
from ..services.compensation import payment_cancel_request, payment_capture_request, payment_void_by_key
from ..services.refunds import payment_refund
from .v1 import IDEMPOTENCY_KEY, RefundOut, idempotency_key_from


def _key(request, data: dict) -> str:
    """The Idempotency-Key header, or the body's `idempotency_key` (callers whose HTTP client sends JSON
    only, such as the Order service's participant calls)."""
    if request.headers.get("Idempotency-Key") or not data.get("idempotency_key"):
        return idempotency_key_from(request)
    return data["idempotency_key"]


class CardInput(StrictSerializer):
    number = serializers.RegexField(r"^[0-9 -]{12,23}$")
    exp_month = serializers.IntegerField(min_value=1, max_value=12)
    exp_year = serializers.IntegerField(min_value=2000, max_value=2100)
    cvc = serializers.RegexField(r"^\d{3,4}$")
    holder = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class CardRegisterInput(CardInput):
    gateway = serializers.CharField(max_length=20, required=False, allow_null=True)


class BillingInput(StrictSerializer):
    name = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    address = serializers.DictField(
        child=serializers.CharField(max_length=200), required=False, allow_null=True
    )


class ChargeInput(StrictSerializer):
    idempotency_key = serializers.RegexField(IDEMPOTENCY_KEY, required=False)
    order_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,20}$")
    user_id = serializers.IntegerField(min_value=1)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0)
    currency = serializers.RegexField(r"^[A-Z]{3}$")
    gateway = serializers.CharField(max_length=20, required=False, allow_null=True)
    card_id = serializers.CharField(max_length=40, required=False, allow_null=True)
    card = CardInput(required=False, allow_null=True)
    capture = serializers.BooleanField(default=True)
    shipping_country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, allow_blank=True, default="")
    billing = BillingInput(required=False, allow_null=True)
    client_ip = serializers.IPAddressField(required=False, allow_null=True)
    deadline = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs):
        if bool(attrs.get("card_id")) == bool(attrs.get("card")):
            raise serializers.ValidationError({"card": ["Give exactly one of card and card_id."]})
        return attrs


class RefundInput(StrictSerializer):
    idempotency_key = serializers.RegexField(IDEMPOTENCY_KEY, required=False)
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class VoidByKeyInput(StrictSerializer):
    order_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,20}$")
    authorize_key = serializers.RegexField(IDEMPOTENCY_KEY)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def status_document(payment: Payment, request=None) -> dict:
    """What a caller needs to follow a payment: no card number, no token, no provider reference."""
    document = {
        "id": payment.pk,
        "order_number": payment.order_number,
        "user_id": payment.user_id,
        "status": payment.status,
        "amount": money(payment.amount),
        "amount_refunded": money(payment.amount_refunded),
        "currency": payment.currency,
        "gateway": payment.gateway,
        "card_brand": payment.card_brand,
        "card_last4": payment.card_last4,
        "fraud_score": payment.fraud_score,
        "fraud_reasons": list(payment.fraud_reasons),
        "failure_code": payment.failure_code,
        "failure_message": payment.failure_message,
        "next_action": payment.next_action,
        "created_at": payment.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": payment.updated_at.isoformat().replace("+00:00", "Z"),
    }
    document["status_url"] = reverse("internal-payment", args=[payment.pk])
    return document


def _payment_or_404(payment_id: int) -> Payment:
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("payment", payment_id)
    return payment


class CardsApi(InternalAPIView):
    def post(self, request):
        data = validated(CardRegisterInput, request)
        gateway = data.pop("gateway", None)
        try:
            card = card_register(card=CardDetails(**data), gateway=gateway)
        except CardRejected as exc:
            raise ApplicationError(
                "card_declined",
                exc.message or "The card was refused",
                extra={"decline_code": exc.code},
                status=402,
            ) from None
        except ProviderUnavailable:
            raise ApplicationError(
                "payment_gateway_unavailable", "The card could not be registered now; retry", status=503
            ) from None
        return Response(
            {
                "card_id": card.pk,
                "gateway": card.gateway,
                "brand": card.brand,
                "bin": card.bin,
                "last4": card.last4,
                "country": card.country,
            },
            status=status.HTTP_201_CREATED,
        )


class PaymentsApi(InternalAPIView):
    def get(self, request):
        order_number = request.query_params.get("order_number", "")
        if not order_number:
            raise ApplicationError(
                "validation_error",
                "order_number is required",
                extra={"fields": {"order_number": ["required"]}},
            )
        payments = Payment.objects.filter(order_number=order_number).order_by("-created_at", "-id")[:50]
        return Response({"results": [status_document(p) for p in payments]})

    def post(self, request):
        data = validated(ChargeInput, request)
        key = _key(request, data)
        billing = data.get("billing") or {}
        card = data.get("card")
        payment, _created = payment_submit(
            ChargeRequest(
                order_number=data["order_number"],
                user_id=data["user_id"],
                amount=data["amount"],
                currency=data["currency"],
                idempotency_key=key,
                gateway=data.get("gateway"),
                card=CardDetails(**card) if card else None,
                card_id=data.get("card_id"),
                capture=data["capture"],
                shipping_country=data["shipping_country"],
                billing_name=billing.get("name", ""),
                billing_address=billing.get("address"),
                client_ip=data.get("client_ip"),
                deadline=data.get("deadline"),
            )
        )
        return Response(
            status_document(payment),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": status_document(payment)["status_url"]},
        )


class PaymentApi(InternalAPIView):
    def get(self, request, payment_id: int):
        return Response(status_document(_payment_or_404(payment_id)))


class PaymentCaptureApi(InternalAPIView):
    def post(self, request, payment_id: int):
        _payment_or_404(payment_id)
        return Response(status_document(payment_capture_request(payment_id)), status=status.HTTP_202_ACCEPTED)


class PaymentCancelApi(InternalAPIView):
    def post(self, request, payment_id: int):
        _payment_or_404(payment_id)
        return Response(status_document(payment_cancel_request(payment_id)), status=status.HTTP_202_ACCEPTED)


class PaymentVoidsApi(InternalAPIView):
    def post(self, request):
        data = validated(VoidByKeyInput, request)
        payments = payment_void_by_key(
            order_number=data["order_number"], authorize_key=data["authorize_key"], reason=data["reason"]
        )
        return Response({"results": [status_document(p) for p in payments]})


class PaymentRefundsApi(InternalAPIView):
    def post(self, request, payment_id: int):
        data = validated(RefundInput, request)
        key = _key(request, data)
        _payment_or_404(payment_id)
        outcome = payment_refund(
            payment_id=payment_id,
            amount=data.get("amount"),
            reason=data["reason"],
            idempotency_key=key,
            actor="internal",
        )
        return Response(
            RefundOut(outcome.refund).data,
            status=status.HTTP_200_OK if outcome.replayed else status.HTTP_201_CREATED,
        )
