"""The channel port: email, push and SMS behind one `send(message) -> Accepted`.

An adapter raises SendFailed: `permanent=False` for what a later attempt may fix (a server down, a 4xx SMTP
reply, a provider's 5xx or timeout), `permanent=True` for a refusal (then `bounced=True` when it is the
address that does not take messages). Every message carries its idempotency key: the email's Message-ID
and the providers' Idempotency-Key, so a send repeated after a crash is recognised downstream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    key: str
    channel: str
    address: str
    subject: str
    text: str
    html: str
    locale: str
    trace_id: str = ""


@dataclass(frozen=True)
class Accepted:
    provider_ref: str


class SendFailed(Exception):
    def __init__(self, message: str, *, permanent: bool, bounced: bool = False):
        super().__init__(message)
        self.permanent = permanent
        self.bounced = bounced


class Channel(Protocol):
    def send(self, message: OutgoingMessage) -> Accepted: ...


def channel_for(name: str) -> Channel:
    from django.conf import settings

    from .email import SmtpEmail
    from .providers import MessagingProvider

    if name == "email":
        return SmtpEmail()
    if name == "push":
        return MessagingProvider("push", settings.NOTIFICATION_PUSH_URL)
    if name == "sms":
        return MessagingProvider("sms", settings.NOTIFICATION_SMS_URL)
    raise LookupError(f"no channel {name!r}")


@contextlib.contextmanager
def channel_sessions() -> Iterator[Callable[[str], Channel]]:
    """For a batch: `get(name)` gives each channel once; email keeps one SMTP connection open for the whole
    batch (closed at the end, and after any failure so the next message opens a fresh one)."""
    from django.core.mail import get_connection

    from .email import SmtpEmail

    opened: dict[str, Channel] = {}
    smtp = None

    def get(name: str) -> Channel:
        nonlocal smtp
        if name not in opened:
            if name == "email":
                smtp = get_connection(fail_silently=False)
                opened[name] = SmtpEmail(connection=smtp)
            else:
                opened[name] = channel_for(name)
        return opened[name]

    try:
        yield get
    finally:
        if smtp is not None:
            with contextlib.suppress(Exception):  # every message's outcome is recorded already
                smtp.close()
