"""Email over SMTP (Django's mail backend: SMTP in the services profile, files in the embedded one).

The Message-ID is made from the notification's idempotency key, so the same notification always leaves with
the same Message-ID: a send repeated after a crash between SMTP's answer and our commit is one message
to every receiver that drops duplicate Message-IDs (SMTP itself has no idempotent submission).
"""

from __future__ import annotations

import contextlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from . import Accepted, OutgoingMessage, SendFailed


def message_id(key: str) -> str:
    return f"<{key}@{settings.NOTIFICATION_MESSAGE_ID_DOMAIN}>"


class SmtpEmail:
    """One connection per message; or, given `connection` (an email backend), that connection for every
    message, opened when needed and closed after a failure (the next message opens a fresh one)."""

    def __init__(self, connection=None):
        self.connection = connection

    def send(self, message: OutgoingMessage) -> Accepted:
        try:
            return self._send(message)
        except SendFailed:
            if self.connection is not None:
                with contextlib.suppress(Exception):  # a broken connection: dropped either way
                    self.connection.close()
            raise

    def _send(self, message: OutgoingMessage) -> Accepted:
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            to=[message.address],
            headers={
                "Message-ID": message_id(message.key),
                "X-Notification-Key": message.key,
                "Content-Language": message.locale,
                **({"X-Trace-Id": message.trace_id} if message.trace_id else {}),
            },
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        try:
            if self.connection is not None:
                self.connection.open()  # a no-op while open: send_messages then keeps it open
            (self.connection or get_connection(fail_silently=False)).send_messages([mail])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            raise SendFailed(f"recipient refused: {codes}", permanent=permanent, bounced=permanent) from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:200], permanent=exc.smtp_code >= 500
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(
                f"SMTP unavailable: {type(exc).__name__}: {exc}"[:200], permanent=False
            ) from None
        return Accepted(provider_ref=message_id(message.key))
