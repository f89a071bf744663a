"""The /api/v1/orders request shapes, shared by the monolith and the Order service: while the orders
routes are split between them, both must refuse the same input with the same errors.

Payment gateways are the settings' `PAYMENT_GATEWAYS` (monolith) or `ORDER_PAYMENT_GATEWAYS` (Order
service); the Idempotency-Key rule is the one both apply to checkout.
"""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contracts.errors import ApplicationError
from contracts.pricing import MAX_LINE_QUANTITY, postal_code_normalize

from .fields import IdField, StrictCharField, StrictIntegerField, StrictRegexField

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}  # the header, in OpenAPI
MAX_PARCEL_GRAMS = 1_000_000
COUPON_CODE = re.compile(r"^[A-Z0-9_-]{1,32}$")  # stored upper-case; the services check it after .upper()
COUPON_KINDS = [("percent", "Percentage"), ("fixed", "Fixed amount")]


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


class QuantityField(StrictIntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_LINE_QUANTITY, **kwargs)


class CartItemAddInput(serializers.Serializer):
    product_id = IdField()
    quantity = QuantityField()


class CartItemSetInput(serializers.Serializer):
    quantity = QuantityField()


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


class ShippingQuoteInput(DestinationSerializer):
    weight_grams = StrictIntegerField(min_value=0, max_value=MAX_PARCEL_GRAMS, required=False)


class CouponValidateInput(serializers.Serializer):
    code = StrictCharField(max_length=32)


@extend_schema_field({"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,32}$"})
class CouponCodeField(serializers.CharField):
    """Documented as what the services accept (any case: they store it upper-case)."""


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d{1,8}(\.\d{1,2})?$"})
class CouponAmountField(serializers.DecimalField):
    """A non-negative amount with at most two decimals ("10", "12.50"), as the coupon rules accept."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=10, decimal_places=2, **kwargs)


class CouponCreateInput(serializers.Serializer):
    code = CouponCodeField(max_length=32)
    kind = serializers.ChoiceField(choices=COUPON_KINDS)
    value = CouponAmountField()
    min_order_total = CouponAmountField(required=False)
    valid_from = serializers.DateTimeField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    usage_limit = StrictIntegerField(min_value=1, max_value=2**31 - 1, required=False, allow_null=True)
    is_active = serializers.BooleanField(required=False)


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


def payment_gateways() -> list[str]:
    return list(getattr(settings, "ORDER_PAYMENT_GATEWAYS", None) or settings.PAYMENT_GATEWAYS)


class PaymentInput(serializers.Serializer):
    gateway = StrictCharField(required=False, allow_null=True, max_length=20)
    card = CardInput()

    def validate_gateway(self, value: str | None) -> str | None:
        if value is not None and value not in payment_gateways():
            raise serializers.ValidationError(f"One of: {', '.join(sorted(payment_gateways()))}")
        return value


class CheckoutInput(serializers.Serializer):
    shipping = ShippingInput()
    coupon_code = StrictCharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    payment = PaymentInput()
