"""The auth service's own tables: users (mirroring the monolith's), signing keys, the audit chain and
per-username login throttles. django-oauth-toolkit's tables (applications, grants, tokens) sit beside."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from chassis.keyring import KeyState, SigningKeyFields

from .roles import Role

__all__ = [
    "AuditEntry",
    "AuditHead",
    "KeyState",
    "Origin",
    "PasswordResetToken",
    "Role",
    "SigningKey",
    "User",
]


class Origin(models.TextChoices):
    """Which side created a user: its owner while the accounts module moves (contracts/user.py)."""

    MONOLITH = "monolith", "Monolith"
    AUTH = "auth", "Auth service"


class User(AbstractUser):
    """An account. `legacy_user_id` is the user's public id on both sides: the monolith's id for users
    synced from it, `AUTH_USER_ID_OFFSET + pk` for users registered here (they reach the monolith's tables
    with that id). Users synced from the monolith keep its password hash until their first login here."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    phone = models.CharField(max_length=32, blank=True)
    legacy_user_id = models.BigIntegerField(unique=True, null=True, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.MONOLITH)
    updated_at = models.DateTimeField(auto_now=True)
    # The version (microseconds) of the user document this row holds: a document from the monolith is
    # applied only when newer; a change made here takes a newer one and is published (`user.upserted`).
    version = models.BigIntegerField(null=True, blank=True)
    # The hash the monolith holds (or is sent) for the current password: PBKDF2, which it can check. Tells
    # "the same password, upgraded to Argon2id here" from "changed there"; sent back as the document's hash.
    legacy_password = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        db_table = "auth_service_user"


class SigningKey(SigningKeyFields):
    """An ES256 signing key. The private key is sealed with AES-256-GCM under AUTH_KEY_ENCRYPTION_KEY."""

    class Meta:
        db_table = "auth_service_signing_key"
        constraints = [
            models.UniqueConstraint(
                fields=["state"], condition=Q(state="active"), name="one_active_signing_key"
            )
        ]


class AuditEntry(models.Model):
    """One line of the auth audit chain: `hash` covers every field and the previous entry's hash."""

    seq = models.BigIntegerField(unique=True)
    occurred_at = models.DateTimeField()
    event = models.CharField(max_length=40)
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=64, blank=True)
    username = models.CharField(max_length=150, blank=True)
    user_id = models.BigIntegerField(null=True, blank=True)
    client_id = models.CharField(max_length=100, blank=True)
    ip = models.CharField(max_length=45, blank=True)
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "auth_service_audit_entry"
        ordering = ["seq"]


class AuditHead(models.Model):
    """The chain's head (one row): entry count and last hash, signed with AUTH_AUDIT_KEY (empty before audit
    keys). Appends lock it, so the chain stays linear; verify compares it with the table, which catches
    entries cut from the end."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    entries = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64)
    signature = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "auth_service_audit_head"


class AuditCheckpoint(models.Model):
    """A signed checkpoint of the chain (kernel.audit.checkpoints), when AUTH_AUDIT_CHECKPOINTS is `table`.
    Written in the append's transaction, append-only like the entries (PostgreSQL trigger)."""

    chain = models.CharField(max_length=200)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    at = models.CharField(max_length=40)
    sig = models.CharField(max_length=64)

    class Meta:
        db_table = "auth_service_audit_checkpoint"
        indexes = [models.Index(fields=["chain", "seq"], name="auth_audit_checkpoint_seq")]


class PasswordResetToken(models.Model):
    """A single-use password reset token emailed to the user; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "auth_service_password_reset_token"
