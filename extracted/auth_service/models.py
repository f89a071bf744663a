"""The auth service's own tables: users (mirroring the monolith's), signing keys, the audit chain and
per-username login throttles. django-oauth-toolkit's tables (applications, grants, tokens) sit beside."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from .roles import Role

__all__ = ["AuditEntry", "AuditHead", "KeyState", "LoginThrottle", "Role", "SigningKey", "User"]


class User(AbstractUser):
    """An account. Users synced from the monolith keep its id in `legacy_user_id` and its password hash."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    legacy_user_id = models.BigIntegerField(unique=True, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # `sync users`: the version (monolith updated_at, microseconds) of the last document applied
    legacy_version = models.BigIntegerField(null=True, blank=True)
    # the last password hash the monolith sent: tells "the same password, upgraded here" from "changed there"
    legacy_password = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        db_table = "auth_service_user"


class KeyState(models.TextChoices):
    ACTIVE = "active", "Active (signs and verifies)"
    RETIRING = "retiring", "Retiring (verifies until verify_until)"
    RETIRED = "retired", "Retired (neither)"


class SigningKey(models.Model):
    """An ES256 signing key. The private key is sealed with AES-256-GCM under AUTH_KEY_ENCRYPTION_KEY."""

    kid = models.CharField(max_length=64, unique=True)  # RFC 7638 thumbprint of the public JWK
    state = models.CharField(max_length=8, choices=KeyState.choices)
    public_jwk = models.JSONField()
    sealed_private_key = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    verify_until = models.DateTimeField(null=True, blank=True)  # set when the key starts retiring
    retired_at = models.DateTimeField(null=True, blank=True)

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


class LoginThrottle(models.Model):
    """Failed-login counter of one username (as typed, lower-cased), known account or not."""

    username = models.CharField(max_length=254, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True)
    locked_until = models.DateTimeField(null=True)

    class Meta:
        db_table = "auth_service_login_throttle"
