"""Password change and reset by an emailed single-use token, with the monolith's rules and errors.

Ending sessions: every refresh token of the user is revoked on a reset (on a change, all but the one
behind the access token making the request), and the new PBKDF2 hash reaches the monolith
(`user.upserted`), where it ends the legacy sessions (their session hash no longer matches) and
`sync users receive` revokes the legacy API tokens. Access tokens already issued run out by themselves
(AUTH_ACCESS_TOKEN_TTL_SECONDS): resource servers verify them locally.

The rules are a deliberate copy of the monolith's (legacy_monolith/accounts/services/passwords.py): the two
run on different user tables, and the monolith's copy goes with its accounts module (decommissioning);
until then tests/e2e/test_accounts_contract.py holds both processes to the same answers."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chassis.validation import password_validate
from contracts.errors import ApplicationError

from ..audit import Event, audit_record
from ..models import PasswordResetToken, User
from ..sessions import refresh_tokens_revoke
from .mail import emails_via_service, password_reset_event_write, password_reset_mail_send
from .publish import user_changed
from .services import password_store

log = logging.getLogger(__name__)

PASSWORD_RESET = "password.reset"  # audit event of a confirmed reset


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _password_set(user: User, password: str) -> None:
    password_store(user, password)
    user_changed(user, update_fields=["password", "legacy_password"])


@transaction.atomic
def user_change_password(
    *, user: User, old_password: str, new_password: str, access_token: str | None = None, ip: str = ""
) -> None:
    """Change the password knowing the current one; every other session (refresh token) ends."""
    if not user.check_password(old_password):
        raise ApplicationError(
            "wrong_password",
            "The current password is not correct",
            extra={"fields": {"old_password": ["The current password is not correct."]}},
            status=400,
        )
    password_validate(password=new_password, user=user, field="new_password")
    _password_set(user, new_password)
    revoked = refresh_tokens_revoke(user, keep_access_token=access_token)
    audit_record(
        event=Event.PASSWORD_CHANGED,
        username=user.username,
        user_id=user.pk,
        ip=ip,
        data={"refresh_tokens_revoked": revoked},
    )


def _reset_tokens_void(*, user: User, now) -> None:
    """Expire the user's still-usable reset tokens: only the newest emailed token may work."""
    usable = PasswordResetToken.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now)
    usable.update(expires_at=now)


def password_reset_request(*, email: str) -> None:
    """Email a reset token to the active account with this address, if there is one. The caller answers
    the same either way (no user enumeration). A new token supersedes the user's earlier unused ones.
    Not idempotent by design: each request mails a fresh token and the latest one wins."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).order_by("id").first()
    if user is None:
        log.info("password reset requested for an unknown or inactive address")
        return
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    via_service = emails_via_service(user)  # read once: one request never does both
    with transaction.atomic():
        _reset_tokens_void(user=user, now=now)
        PasswordResetToken.objects.create(
            user=user,
            token_hash=token_hash(key),
            expires_at=now + timedelta(seconds=settings.PASSWORD_RESET_TTL_SECONDS),
        )
        if via_service:  # the Notification service sends it (the event commits with the token)
            password_reset_event_write(user=user, key=key)
    if via_service:
        return
    try:
        password_reset_mail_send(username=user.get_username(), email=user.email, key=key)
    except Exception:  # the answer must not differ for known addresses; the failure is logged
        log.exception("password reset email could not be sent", extra={"user_id": user.pk})


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str, ip: str = "") -> None:
    """Set a new password with an emailed token: single use, expiring. Ends every session of the user
    (module docstring) and voids the user's other reset tokens."""
    now = timezone.now()
    reset = (
        PasswordResetToken.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if reset is None or reset.used_at is not None or not reset.user.is_active:
        raise ApplicationError("reset_token_invalid", "This password reset token is not valid", status=400)
    if reset.expires_at <= now:
        raise ApplicationError(
            "reset_token_expired", "This password reset token has expired; ask for a new one", status=400
        )
    user = reset.user
    password_validate(password=new_password, user=user, field="new_password")
    _password_set(user, new_password)
    reset.used_at = now
    reset.save(update_fields=["used_at"])
    _reset_tokens_void(user=user, now=now)
    revoked = refresh_tokens_revoke(user)
    audit_record(
        event=PASSWORD_RESET,
        username=user.username,
        user_id=user.pk,
        ip=ip,
        data={"refresh_tokens_revoked": revoked},
    )
