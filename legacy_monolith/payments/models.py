"""Payments through external card gateways, refunds, provider webhooks and antifraud lists.

No card number is ever stored: only the gateway's token, the BIN (first six digits) and the last four.
"""

from django.conf import settings
from django.db import models

from legacy_monolith.orders.models import Order


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        AUTHORIZED = "authorized", "Authorized"
        CAPTURED = "captured", "Captured"
        DECLINED = "declined", "Declined by the gateway"
        REJECTED_FRAUD = "rejected_fraud", "Rejected by antifraud"
        FAILED = "failed", "Gateway error"
        REFUNDED = "refunded", "Refunded"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        # An authorization released before capture (a checkout saga compensated): nothing was charged.
        VOIDED = "voided", "Voided"

    # Who created the payment (`sync payments`): the monolith, or the Payment service, whose payments are
    # kept here as copies (origin_version: the service's version of the copy) while the route is split.
    origin = models.CharField(max_length=10, default="monolith")
    origin_version = models.BigIntegerField(default=0)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments")
    gateway = models.CharField(max_length=20)
    gateway_ref = models.CharField(max_length=64, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    card_token = models.CharField(max_length=64, blank=True)
    card_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    card_brand = models.CharField(max_length=16, blank=True)
    card_bin = models.CharField(max_length=6, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_country = models.CharField(max_length=2, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    fraud_score = models.PositiveSmallIntegerField(default=0)
    fraud_reasons = models.JSONField(default=list, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    origin = models.CharField(max_length=10, default="monolith")  # who made the refund (`sync payments`)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    gateway_ref = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)


class WebhookEvent(models.Model):
    """A provider callback, stored once per (gateway, event_id) so redeliveries are no-ops."""

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=64)
    type = models.CharField(max_length=40)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="webhook_event_once")]


class BlockedBin(models.Model):
    bin = models.CharField(max_length=6, unique=True)
    reason = models.CharField(max_length=200, blank=True)


class BlockedCountry(models.Model):
    code = models.CharField(max_length=2, unique=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "blocked countries"


class AuthorizationVoid(models.Model):
    """A saga's void that found no payment yet: its authorization may still be on its way (a step that timed
    out at the Order service is compensated while the request waits here). The late authorization finds this
    row and charges nothing. Keyed by order number and the authorization's idempotency key."""

    key = models.CharField(max_length=160, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
