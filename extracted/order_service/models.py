"""The Order service's data: carts, the shipping rate table, coupons, orders, and checkout sagas.

Users and products belong to other services: an order keeps the user's id (the monolith's user id, the
gateway's `legacy_user_id`) and, per line, the product id with what it cost then (sku, name, unit price).
Every order has an `origin`: `service` for the ones checkout created here, `monolith` for the copies of the
monolith's orders that sync brought over; each side applies only its own changes to the other's copies.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Cart(models.Model):
    user_id = models.BigIntegerField(unique=True)
    updated_at = models.DateTimeField(auto_now=True)


class CartItem(models.Model):
    """A cart line. The product's facts are the catalog's (asked at every read); the copy here is what the
    line showed last, for a product the catalog no longer shows (inactive: available_stock 0)."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    product_id = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)
    sku = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    weight_grams = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "product_id"], name="order_cart_item_one_line_per_product"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_cart_item_quantity_positive"),
        ]


class ShippingRule(models.Model):
    """A row of the shipping rate table (contracts.pricing.shipping_rule_pick picks among them)."""

    name = models.CharField(max_length=80)
    country = models.CharField(max_length=2, default="FR")
    postal_prefix = models.CharField(max_length=10, blank=True)
    min_weight_grams = models.PositiveIntegerField(default=0)
    max_weight_grams = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=8, decimal_places=2)
    carrier = models.CharField(max_length=40)
    delivery_days = models.PositiveSmallIntegerField(default=3)
    priority = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)


class Coupon(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage"
        FIXED = "fixed", "Fixed amount"

    code = models.CharField(max_length=32, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value = models.DecimalField(max_digits=10, decimal_places=2)
    min_order_total = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    valid_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    times_used = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(value__gt=0), name="order_coupon_value_positive"),
            models.UniqueConstraint(Upper("code"), name="order_coupon_code_unique_ignoring_case"),
            # The usage limit holds in the database too, whatever races the application loses.
            models.CheckConstraint(
                condition=Q(usage_limit__isnull=True) | Q(times_used__lte=models.F("usage_limit")),
                name="order_coupon_within_usage_limit",
            ),
        ]


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING_PAYMENT = "pending_payment", "Pending payment"
        PAID = "paid", "Paid"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"
        SHIPPED = "shipped", "Shipped"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        # A saga that failed before any payment (stock, coupon): the monolith never created such an order,
        # so /api/v1 does not show it; /api/v2 does, with its reason.
        REJECTED = "rejected", "Rejected"

    class Origin(models.TextChoices):
        SERVICE = "service", "Created by the Order service"
        MONOLITH = "monolith", "Copied from the monolith"

    number = models.CharField(max_length=20, unique=True)
    user_id = models.BigIntegerField(db_index=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING_PAYMENT)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SERVICE)
    currency = models.CharField(max_length=3, default="EUR")
    subtotal = models.DecimalField(max_digits=12, decimal_places=2)
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    coupon_code = models.CharField(max_length=32, blank=True)
    coupon = models.ForeignKey(Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    shipping_name = models.CharField(max_length=120)
    shipping_line1 = models.CharField(max_length=200)
    shipping_city = models.CharField(max_length=100)
    shipping_postal_code = models.CharField(max_length=10)
    shipping_country = models.CharField(max_length=2)
    shipping_carrier = models.CharField(max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001 (unique per user)
    request_hash = models.CharField(max_length=64, blank=True)
    # Which payment backend pays this order (participants/payments.py), decided once at checkout.
    payment_adapter = models.CharField(max_length=40, blank=True)
    # The latest payment attempt as /api/v1 shows it ("payment": {id, status, gateway, card_*}).
    payment_id = models.CharField(max_length=64, blank=True)
    payment_status = models.CharField(max_length=20, blank=True)
    payment_gateway = models.CharField(max_length=20, blank=True)
    card_brand = models.CharField(max_length=16, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    # Why a failed order failed, in words the customer can act on (and its stable code).
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    failure_extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every change, so the monolith applies a service order's events in order (older = no-op).
    version = models.BigIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user_id", "idempotency_key"], name="order_idempotency_per_user"),
        ]


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product_id = models.BigIntegerField()
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField()
    line_total = models.DecimalField(max_digits=12, decimal_places=2)
    weight_grams = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]


class CouponRedemption(models.Model):
    """One use of a coupon by one order (unique: a redelivered redeem command cannot count twice)."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="coupon_redemption")
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class Saga(models.Model):
    """One checkout saga: its state lives here, never only in a message or in memory."""

    class State(models.TextChoices):
        RUNNING = "running", "Running forward"
        COMPENSATING = "compensating", "Compensating"
        COMPLETED = "completed", "Completed (order confirmed and paid)"
        COMPENSATED = "compensated", "Compensated (order failed, everything given back)"
        FAILED = "failed", "Stopped: needs a human (sagas retry / compensate)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="saga")
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING)
    step = models.CharField(max_length=32)  # the step in hand (forward or compensation)
    attempt = models.PositiveIntegerField(default=1)  # of the step in hand
    step_deadline = models.DateTimeField()  # no reply by then: retry, or compensate past the deadline
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # a retry waiting for its backoff
    deadline = models.DateTimeField()  # the whole saga's: past it, compensate
    trace_id = models.CharField(max_length=32)
    context = models.JSONField(default=dict)  # what later steps need: card token facts, stock owner, ...
    done = models.JSONField(default=list)  # forward steps completed, in order (compensated in reverse)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["step_deadline"],
                condition=Q(state__in=["running", "compensating"]),
                name="order_saga_active_deadline",
            )
        ]


class SagaTransition(models.Model):
    """Every move of a saga, with its cause and trace id (`sagas show` prints them)."""

    saga = models.ForeignKey(Saga, on_delete=models.CASCADE, related_name="transitions")
    at = models.DateTimeField(auto_now_add=True)
    from_step = models.CharField(max_length=32, blank=True)
    to_step = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16)
    attempt = models.PositiveIntegerField(default=1)
    cause = models.CharField(max_length=300)
    trace_id = models.CharField(max_length=32)

    class Meta:
        ordering = ["id"]


class ParticipantCall(models.Model):
    """A participant's answer to one command, keyed by (saga, step, attempt's action): a redelivered
    command gets the same reply, without calling the backend again."""

    saga_id = models.UUIDField()
    action = models.CharField(max_length=40)  # e.g. reserve_stock, release_stock, authorize_payment
    reply = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["saga_id", "action"], name="order_participant_once")]
