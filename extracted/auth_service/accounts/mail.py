"""The one place the password-reset mail leaves this service (the seam for the Notification service).

Today it goes out through Django's mail backend (EMAIL_BACKEND: a file per message under var/mail by
default, SMTP in a deployment). When the Notification service exists and its flag is on, this function is
the only one to change: it will publish the request for that service to send instead."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

RESET_EMAIL_SUBJECT = "Reset your TechStore password"


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
