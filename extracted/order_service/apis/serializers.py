"""Output serializers: the JSON shapes of the monolith's /api/v1 orders contract, from this service's rows."""

from rest_framework import serializers

from chassis.fields import MoneyField


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


class PaymentRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    gateway = serializers.CharField()
    card_last4 = serializers.CharField()
    card_brand = serializers.CharField()


class ShippingOut(serializers.Serializer):
    name = serializers.CharField()
    line1 = serializers.CharField()
    city = serializers.CharField()
    postal_code = serializers.CharField()
    country = serializers.CharField()
    carrier = serializers.CharField()


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
        return order.coupon_code or None

    def get_shipping(self, order) -> ShippingOut:
        return {
            "name": order.shipping_name,
            "line1": order.shipping_line1,
            "city": order.shipping_city,
            "postal_code": order.shipping_postal_code,
            "country": order.shipping_country,
            "carrier": order.shipping_carrier,
        }

    def get_payment(self, order) -> PaymentRefOut | None:
        if not order.payment_id:
            return None
        payment_id = int(order.payment_id) if order.payment_id.isdigit() else order.payment_id
        return {
            "id": payment_id,
            "status": order.payment_status,
            "gateway": order.payment_gateway,
            "card_last4": order.card_last4,
            "card_brand": order.card_brand,
        }


class OrderV2Out(OrderOut):
    """v2: the order with its checkout's progress (the saga's state and step) and why it failed."""

    url = serializers.SerializerMethodField()
    checkout = serializers.SerializerMethodField()
    failure = serializers.SerializerMethodField()

    def get_url(self, order) -> str:
        return f"/api/v2/orders/{order.number}"

    def get_checkout(self, order) -> dict | None:
        saga = getattr(order, "saga", None)
        if saga is None:
            return None
        return {"state": saga.state, "step": saga.step, "attempt": saga.attempt}

    def get_failure(self, order) -> dict | None:
        if not order.failure_code:
            return None
        return {"code": order.failure_code, "message": order.failure_message, "extra": order.failure_extra}
