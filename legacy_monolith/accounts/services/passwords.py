"""Password change and password reset by an emailed single-use token.

Signing out everywhere relies on two mechanisms:
- sessions: Django stores in each session an HMAC of the password hash (`_auth_user_hash`) and checks it
  on every request (django.contrib.auth.get_user); a new password makes every older session fail that
  check, which flushes it. This holds for every session engine, without scanning the session table.
- legacy API tokens: revoked explicitly (revoked_at) in the same transaction as the new password.
"""

import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY, update_session_auth_hash
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from chassis.validation import password_validate
from legacy_monolith.core.errors import ApplicationError

from ..authentication import token_hash
from ..models import AccountEmail, ApiToken, PasswordResetToken, User
from .emails import account_email_publish, emails_via_service, password_reset_url

log = logging.getLogger(__name__)

RESET_EMAIL_SUBJECT = "Reset your TechStore password"


def _api_tokens_revoke(*, user: User, keep: ApiToken | None = None) -> int:
    live = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    if keep is not None:
        live = live.exclude(pk=keep.pk)
    return live.update(revoked_at=timezone.now())


def _reset_tokens_void(*, user: User, now) -> None:
    """Expire the user's still-usable reset tokens: only the newest emailed token may work."""
    usable = PasswordResetToken.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now)
    usable.update(expires_at=now)


def _password_set(*, user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])


@transaction.atomic
def user_change_password(
    *,
    user: User,
    old_password: str,
    new_password: str,
    request: HttpRequest | None = None,
    current_token: ApiToken | None = None,
) -> None:
    """Change the password knowing the current one. Signs out every other session and revokes every other
    API token; the session or token making the request stays signed in."""
    if not user.check_password(old_password):
        raise ApplicationError(
            "wrong_password",
            "The current password is not correct",
            extra={"fields": {"old_password": ["The current password is not correct."]}},
            status=400,
        )
    password_validate(password=new_password, user=user, field="new_password")
    _password_set(user=user, password=new_password)
    _api_tokens_revoke(user=user, keep=current_token)
    if request is not None and str(request.session.get(SESSION_KEY)) == str(user.pk):
        update_session_auth_hash(request, user)  # keeps this session, under a new key


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
    expires_at = now + timedelta(seconds=settings.PASSWORD_RESET_TTL_SECONDS)
    via_service = emails_via_service(user)
    with transaction.atomic():
        _reset_tokens_void(user=user, now=now)
        PasswordResetToken.objects.create(user=user, token_hash=token_hash(key), expires_at=expires_at)
        if via_service:  # the Notification service sends it (see services/emails.py)
            account_email_publish(
                kind=AccountEmail.Kind.PASSWORD_RESET_REQUESTED, user=user, reset_url=password_reset_url(key)
            )
    if via_service:
        return
    minutes = settings.PASSWORD_RESET_TTL_SECONDS // 60
    body = (
        f"Hello {user.get_username()},\n\n"
        "Someone asked to reset the password of your TechStore account. If it was you, send this token\n"
        "with your new password to POST /api/v1/accounts/password/reset/confirm:\n\n"
        f"    {key}\n\n"
        f"It works once and expires in {minutes} minutes. If it was not you, ignore this email.\n"
    )
    try:
        send_mail(RESET_EMAIL_SUBJECT, body, None, [user.email])
    except Exception:  # the answer must not differ for known addresses; the failure is logged
        log.exception("password reset email could not be sent", extra={"user_id": user.pk})


@transaction.atomic
def password_reset_confirm(*, token: str, new_password: str) -> None:
    """Set a new password with an emailed token: single use, expiring. Also signs the user out everywhere
    (see the module docstring) and voids the user's other reset tokens."""
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
    _password_set(user=user, password=new_password)
    reset.used_at = now
    reset.save(update_fields=["used_at"])
    _reset_tokens_void(user=user, now=now)
    _api_tokens_revoke(user=user)
