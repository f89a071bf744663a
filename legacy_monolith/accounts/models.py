"""Users, roles, legacy opaque API tokens, password-reset tokens and the account emails handed to the
Notification service."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
    ADMIN = "admin", "Admin"


class Origin(models.TextChoices):
    """Which side created a user (its owner while accounts move to the Auth service: contracts/user.py)."""

    MONOLITH = "monolith", "Monolith"
    AUTH = "auth", "Auth service"


class User(AbstractUser):
    """A TechStore account. `role` mirrors the user's one Group, which carries the permissions."""

    email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    phone = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Users registered at the Auth service arrive through `sync users receive` with origin "auth"
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.MONOLITH)

    class Meta:
        db_table = "accounts_user"


class ApiToken(models.Model):
    """A legacy opaque API token. Only a SHA-256 of the key is stored; the key is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64, default="default")
    key_prefix = models.CharField(max_length=8, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)


class PasswordResetToken(models.Model):
    """A single-use password reset token emailed to the user; stored hashed."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_reset_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)


class AccountEmail(models.Model):
    """An account email for the Notification service to send (flag `monolith.accounts.emails_via_service`):
    written with its outbox row in the transaction that caused it; the outbox relay publishes it as the
    `account.*` event of contracts/notifications.py and then forgets the reset link it carried."""

    class Kind(models.TextChoices):
        REGISTERED = "account.registered", "Welcome"
        PASSWORD_RESET_REQUESTED = "account.password_reset_requested", "Password reset"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    user_id = models.BigIntegerField()
    email = models.CharField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True, default="")
    locale = models.CharField(max_length=8, blank=True, default="")
    reset_url = models.CharField(max_length=500, blank=True, default="")  # blanked once published
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"
