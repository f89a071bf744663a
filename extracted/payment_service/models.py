"""The Payment service's tables: payments, refunds, provider webhook events, antifraud blocklists.

No card number is ever stored: the provider's token, the BIN and the last four digits. Provider references,
the card token, billing name and address and webhook payloads are sealed with AES-256-GCM under a data key
whose id travels with each value (fields.EncryptedTextField); references are found through a keyed digest
(`*_ref_digest`), never by decrypting. Keys, velocity marks, audit rows: keys.py, velocity.py, audit.py.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from contracts import payment as contract

from .fields import EncryptedJSONField, EncryptedTextField


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = contract.PENDING, "Pending"
        AUTHORIZED = contract.AUTHORIZED, "Authorized"
        CAPTURED = contract.CAPTURED, "Captured"
        DECLINED = contract.DECLINED, "Declined by the gateway"
        REJECTED_FRAUD = contract.REJECTED_FRAUD, "Rejected by antifraud"
        FAILED = contract.FAILED, "Gateway error"
        VOIDED = contract.VOIDED, "Authorization voided"
        REFUNDED = contract.REFUNDED, "Refunded"
        PARTIALLY_REFUNDED = contract.PARTIALLY_REFUNDED, "Partially refunded"

    class Origin(models.TextChoices):
        SERVICE = "service", "Created by the Payment service"
        MONOLITH = "monolith", "Copied from the monolith (sync payments)"

    class Mode(models.TextChoices):
        CAPTURE = "capture", "Authorize then capture at once"
        AUTHORIZE = "authorize", "Authorize only; the caller captures or voids later"

    id = models.BigAutoField(primary_key=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.SERVICE)
    order_number = models.CharField(max_length=20, db_index=True)
    user_id = models.BigIntegerField(db_index=True)
    gateway = models.CharField(max_length=20)
    gateway_ref = EncryptedTextField(blank=True, default="")
    gateway_ref_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    request_hash = models.CharField(max_length=64, blank=True, default="")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.CAPTURE)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    amount_refunded = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="EUR")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    card_id = models.CharField(max_length=40, blank=True, default="")
    card_token = EncryptedTextField(blank=True, default="")
    card_fingerprint = models.CharField(max_length=64, blank=True, default="", db_index=True)
    card_brand = models.CharField(max_length=16, blank=True, default="")
    card_bin = models.CharField(max_length=6, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_country = models.CharField(max_length=2, blank=True, default="")
    billing_name = EncryptedTextField(blank=True, default="")
    billing_address = EncryptedJSONField(null=True, blank=True)
    shipping_country = models.CharField(max_length=2, blank=True, default="")
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    fraud_score = models.PositiveSmallIntegerField(default=0)
    fraud_reasons = models.JSONField(default=list, blank=True)
    fraud_checked = models.BooleanField(default=False)  # the verdict is taken once, retries keep it
    failure_code = models.CharField(max_length=40, blank=True, default="")
    failure_message = models.CharField(max_length=200, blank=True, default="")
    # What the caller asked for after the authorization ("capture" or "void"), until it is done: the
    # reconciler schedules it again if its task gave up.
    next_action = models.CharField(max_length=10, blank=True, default="")
    # When the provider's answer was lost (timeout, crash): the reconciler asks the provider about it.
    outcome_unknown = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=0)
    deadline = models.DateTimeField(null=True, blank=True)
    # A capture the provider made while we recorded the payment as failed: refunded by the reconciler.
    reconciled_at = models.DateTimeField(null=True, blank=True)
    version = models.BigIntegerField(default=0)  # sync: bumped on every change (sync payments verify)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status", "updated_at"],
                condition=Q(status__in=["pending", "authorized"]) | Q(outcome_unknown=True),
                name="payment_open",
            ),
        ]

    def __str__(self) -> str:
        return f"payment {self.pk} ({self.status})"


class AuthorizationVoid(models.Model):
    """A void that arrived before its authorization (the caller gave up waiting, then compensated): the
    authorization's key, `<order number>|<its idempotency key>`, so that the charge, arriving late, is
    recorded voided and never sent to the provider (services/compensation.py: payment_void_by_key)."""

    key = models.CharField(max_length=160, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Refund(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    id = models.BigAutoField(primary_key=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    gateway_ref = EncryptedTextField(blank=True, default="")
    gateway_ref_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    idempotency_key = models.CharField(max_length=64, unique=True)
    actor_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class WebhookEvent(models.Model):
    """A provider callback, stored once per (gateway, event_id): a redelivery is a no-op. An event about a
    charge we cannot place yet (its authorization answer is still on the way) waits as `deferred` and is
    applied when the payment learns its reference, or by the reconciler."""

    class State(models.TextChoices):
        PROCESSED = "processed", "Applied"
        DEFERRED = "deferred", "Waiting for its payment"
        IGNORED = "ignored", "About nothing of ours"

    gateway = models.CharField(max_length=20)
    event_id = models.CharField(max_length=64)
    type = models.CharField(max_length=40)
    charge_ref_digest = models.CharField(max_length=64, blank=True, default="", db_index=True)
    payload = EncryptedJSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROCESSED)
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["gateway", "event_id"], name="payment_webhook_once")]


class ShadowCharge(models.Model):
    """What a shadow copy of a checkout decided (services/shadow.py), against the providers' test mode.

    Kept apart from payments on purpose: only requests marked `X-Strangler-Shadow: 1` read it (the mirrored
    reads shadow mode compares); no sync, report, reconciler or event ever looks at this table."""

    shadow_key = models.CharField(max_length=64, unique=True)
    legacy_payment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    order_number = models.CharField(max_length=20, db_index=True)
    user_id = models.BigIntegerField()
    gateway = models.CharField(max_length=20)
    gateway_ref = EncryptedTextField(blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    card_fingerprint = models.CharField(max_length=64, blank=True, default="")
    card_brand = models.CharField(max_length=16, blank=True, default="")
    card_bin = models.CharField(max_length=6, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    card_country = models.CharField(max_length=2, blank=True, default="")
    shipping_country = models.CharField(max_length=2, blank=True, default="")
    fraud_score = models.PositiveSmallIntegerField(default=0)
    fraud_reasons = models.JSONField(default=list, blank=True)
    failure_code = models.CharField(max_length=40, blank=True, default="")
    failure_message = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()

    def as_payment(self) -> Payment:
        """An unsaved Payment with this charge's facts, for the antifraud facts (never saved)."""
        return Payment(
            amount=self.amount,
            card_bin=self.card_bin,
            card_country=self.card_country,
            shipping_country=self.shipping_country,
        )


class BlockedBin(models.Model):
    bin = models.CharField(max_length=6, unique=True)
    reason = models.CharField(max_length=200, blank=True, default="")


class BlockedCountry(models.Model):
    code = models.CharField(max_length=2, unique=True)
    reason = models.CharField(max_length=200, blank=True, default="")


class Card(models.Model):
    """A card tokenized at a provider for a later charge (the saga tokenizes at checkout, charges later):
    the provider's token sealed, the facts antifraud needs, never the number."""

    id = models.CharField(primary_key=True, max_length=40)
    gateway = models.CharField(max_length=20)
    token = EncryptedTextField()
    fingerprint = models.CharField(max_length=64, db_index=True)
    brand = models.CharField(max_length=16)
    bin = models.CharField(max_length=6)
    last4 = models.CharField(max_length=4)
    country = models.CharField(max_length=2)
    holder = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)


class VelocityMark(models.Model):
    """Velocity counters without Redis (the embedded profile): one row per recorded attempt or decline."""

    scope = models.CharField(max_length=80)
    member = models.CharField(max_length=80)
    at = models.FloatField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "member"], name="velocity_mark_once")]
        indexes = [models.Index(fields=["scope", "at"], name="velocity_scope_at")]


class DataKey(models.Model):
    """An AES-256 data key, sealed under PAYMENT_KEY_ENCRYPTION_KEY. One is active: new values use it."""

    kid = models.CharField(primary_key=True, max_length=16)
    sealed = models.TextField()
    active = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_key")
        ]


class ReencryptCheckpoint(models.Model):
    """How far `keys reencrypt` got, per encrypted column and target key: a killed run resumes here."""

    column = models.CharField(max_length=80)
    kid = models.CharField(max_length=16)
    last_pk = models.CharField(max_length=40, blank=True, default="")
    moved = models.BigIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["column", "kid"], name="reencrypt_checkpoint_once")]


class AuditHead(models.Model):
    """The chain's head: entry count and last hash, signed with PAYMENT_AUDIT_KEY; locked by every append."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    entries = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64, blank=True, default="")


class AuditCheckpoint(models.Model):
    """A signed checkpoint of the chain when PAYMENT_AUDIT_CHECKPOINTS is `table` (append-only)."""

    chain = models.CharField(max_length=200)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.CharField(max_length=40)
    sig = models.CharField(max_length=64)

    class Meta:
        indexes = [models.Index(fields=["chain", "seq"], name="payment_audit_checkpoint_seq")]


class AuditEntry(models.Model):
    """One state change of a payment or refund, a key operation or a reconciliation; append-only."""

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    event = models.CharField(max_length=40)
    payment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.CharField(max_length=80, blank=True, default="")
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]
