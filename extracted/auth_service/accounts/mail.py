"""The one place the password-reset mail leaves this service: by its own mail backend, or through the
Notification service.

Flag `monolith.accounts.emails_via_service` (the one flag that moves account emails to the Notification
service, on the monolith as here; evaluated for the user's public id, read once per request): off, the mail
goes out through Django's mail backend (EMAIL_BACKEND: a file per message under var/mail by default, SMTP in
a deployment); on, nothing is mailed here: `account.password_reset_requested` (contracts/notifications.py)
is written to this service's outbox in the transaction that creates the token, so the event exists exactly
when the token does, and the relay publishes it for the Notification service (which sends it once per event
id). Its `reset_url` is PASSWORD_RESET_URL?token=<key>."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from chassis.outbox.writer import outbox_write
from contracts.notifications import ACCOUNT_PASSWORD_RESET_REQUESTED, validate_account_event

RESET_EMAIL_SUBJECT = "Reset your TechStore password"
EMAILS_VIA_SERVICE_FLAG = "monolith.accounts.emails_via_service"


def _flags():
    from flags.shared import shared_flags  # imported on first use: the flags client is heavy

    return shared_flags()


def use_flags(facade) -> object:
    """Replace the process's flags facade (tests); returns the previous one."""
    from flags.shared import replace_shared_flags

    return replace_shared_flags(facade)


def public_user_id(user) -> int:
    return user.legacy_user_id or settings.AUTH_USER_ID_OFFSET + user.pk


def emails_via_service(user) -> bool:
    """Whether this user's account emails go through the Notification service (the flag, per user)."""
    from flags import FlagContext

    return _flags().is_enabled(EMAILS_VIA_SERVICE_FLAG, FlagContext(user_id=str(public_user_id(user))))


def password_reset_event_write(*, user, key: str) -> None:
    """`account.password_reset_requested` for the Notification service, in the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("password_reset_event_write must run inside the token's transaction")
    data = {
        "user_id": public_user_id(user),
        "email": user.email,
        "first_name": user.first_name,
        "locale": settings.ACCOUNT_EMAIL_LOCALE,
        "reset_url": f"{settings.PASSWORD_RESET_URL}?{urlencode({'token': key})}",
    }
    outbox_write(
        ACCOUNT_PASSWORD_RESET_REQUESTED, validate_account_event(ACCOUNT_PASSWORD_RESET_REQUESTED, data)
    )


def password_reset_mail_send(*, username: str, email: str, key: str) -> None:
    """Mail `key` to the user; raises what the backend raises (the caller logs it and answers the same)."""
    minutes = settings.PASSWORD_RESET_TTL_SECONDS // 60
    body = (
        f"Hello {username},\n\n"
        "Someone asked to reset the password of your TechStore account. If it was you, send this token\n"
        "with your new password to POST /api/v1/accounts/password/reset/confirm:\n\n"
        f"    {key}\n\n"
        f"It works once and expires in {minutes} minutes. If it was not you, ignore this email.\n"
    )
    send_mail(RESET_EMAIL_SUBJECT, body, None, [email])
