"""The Notification service's data: who can be reached (Recipient, fed by `user.upserted`), what each user
opted out of (Preference), and every message (Notification) with its delivery state.

Nothing is sent twice: a Notification is unique per (event id, channel, address), so a redelivered or
replayed event finds its rows and creates none; a row is sent only by the worker that moved it from
`queued` to `sending` (a conditional UPDATE), and the provider gets the row's idempotency key.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from contracts.notifications import ANY, CATEGORIES, CHANNELS, LOCALES


class Recipient(models.Model):
    """A user's addresses, as the Auth service last published them (`user.upserted`, version rule)."""

    user_id = models.BigIntegerField(primary_key=True)
    email = models.CharField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=32, blank=True, default="")
    first_name = models.CharField(max_length=150, blank=True, default="")
    is_active = models.BooleanField(default=True)
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"recipient {self.user_id}"


class Preference(models.Model):
    """One opt-out (or a locale choice): `channel`/`category` may be `*` (every one)."""

    user_id = models.BigIntegerField()
    channel = models.CharField(max_length=8, choices=[(c, c) for c in (*CHANNELS, ANY)])
    category = models.CharField(max_length=16, choices=[(c, c) for c in (*CATEGORIES, ANY)])
    opted_out = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user_id", "channel", "category"], name="notification_pref_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.channel}/{self.category} opted_out={self.opted_out}"


class UserLocale(models.Model):
    user_id = models.BigIntegerField(primary_key=True)
    locale = models.CharField(max_length=8, choices=[(lc, lc) for lc in LOCALES])


class Notification(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued"
        SENDING = "sending"  # claimed by one worker (lease: claimed_at)
        SENT = "sent"  # handed to SMTP / accepted by the provider
        DELIVERED = "delivered"  # the provider's receipt
        FAILED = "failed"  # retries exhausted or a permanent refusal (then dead-lettered)
        BOUNCED = "bounced"  # the provider's receipt: the address does not take messages
        SUPPRESSED = "suppressed"  # never sent: opted out, rate limited or no address

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=100)
    trace_id = models.CharField(max_length=32, blank=True, default="")
    user_id = models.BigIntegerField(db_index=True)
    channel = models.CharField(max_length=8, choices=[(c, c) for c in CHANNELS])
    category = models.CharField(max_length=16, choices=[(c, c) for c in CATEGORIES])
    address = models.CharField(max_length=254)  # email address, phone number or push user handle
    locale = models.CharField(max_length=8)
    subject = models.CharField(max_length=200, blank=True, default="")
    text = models.TextField()
    html = models.TextField(blank=True, default="")
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(max_length=200, blank=True, default="")  # why suppressed / failed / bounced
    attempts = models.PositiveIntegerField(default=0)
    provider_ref = models.CharField(max_length=120, blank=True, default="")
    published_at = models.DateTimeField()  # the event's occurred_at (the delivery delay is measured from it)
    created_at = models.DateTimeField(auto_now_add=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # delivered, failed, bounced

    class Meta:
        constraints = [
            # The idempotency key: one message per event, channel and address, whatever is redelivered.
            models.UniqueConstraint(fields=["event_id", "channel", "address"], name="notification_once"),
        ]
        indexes = [
            models.Index(fields=["user_id", "-created_at"], name="notification_user_idx"),
            models.Index(
                fields=["state", "claimed_at"],
                name="notification_pending_idx",
                condition=Q(state__in=["queued", "sending"]),
            ),
            models.Index(fields=["channel", "provider_ref"], name="notification_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.channel} -> {self.address} [{self.state}]"

    @property
    def idempotency_key(self) -> str:
        return str(self.id)
