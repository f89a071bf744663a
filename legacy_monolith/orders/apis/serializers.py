"""Output serializers shared by the orders endpoints (the JSON shapes of the HTTP contract)."""

from rest_framework import serializers

from .fields import MoneyField


class CartLineOut(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = MoneyField()
    quantity = serializers.IntegerField()
    line_total = MoneyField()
    available_stock = serializers.IntegerField()


class CartOut(serializers.Serializer):
    items = CartLineOut(many=True)
    subtotal = MoneyField()
    total_weight_grams = serializers.IntegerField()
    item_count = serializers.IntegerField()


class ShippingRuleRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ShippingQuoteOut(serializers.Serializer):
    carrier = serializers.CharField()
    price = MoneyField()
    delivery_days = serializers.IntegerField()
    rule = ShippingRuleRefOut()


class CouponQuoteOut(serializers.Serializer):
    code = serializers.CharField(source="coupon.code")
    kind = serializers.CharField(source="coupon.kind")
    value = MoneyField(source="coupon.value")
    discount = MoneyField()
    subtotal = MoneyField()


class CouponOut(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    kind = serializers.CharField()
    value = MoneyField()
    min_order_total = MoneyField()
    valid_from = serializers.DateTimeField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    usage_limit = serializers.IntegerField(allow_null=True)
    times_used = serializers.IntegerField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class OrderItemOut(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    name = serializers.CharField()
    unit_price = MoneyField()
    quantity = serializers.IntegerField()
    line_total = MoneyField()


class OrderOut(serializers.Serializer):
    number = serializers.CharField()
    status = serializers.CharField()
    currency = serializers.CharField()
    subtotal = MoneyField()
    discount_total = MoneyField()
    shipping_total = MoneyField()
    total = MoneyField()
    coupon_code = serializers.SerializerMethodField()
    shipping = serializers.SerializerMethodField()
    items = OrderItemOut(many=True)
    payment = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)

    def get_coupon_code(self, order) -> str | None:
        return order.coupon.code if order.coupon_id else None

    def get_shipping(self, order) -> dict:
        return {
            "name": order.shipping_name,
            "line1": order.shipping_line1,
            "city": order.shipping_city,
            "postal_code": order.shipping_postal_code,
            "country": order.shipping_country,
            "carrier": order.shipping_carrier,
        }

    def get_payment(self, order) -> dict | None:
        """The latest payment attempt (the selectors prefetch them newest first)."""
        payment = next(iter(order.payments.all()), None)
        if payment is None:
            return None
        return {
            "id": payment.id,
            "status": payment.status,
            "gateway": payment.gateway,
            "card_last4": payment.card_last4,
            "card_brand": payment.card_brand,
        }
