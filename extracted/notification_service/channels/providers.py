"""Push and SMS through an HTTP messaging provider (the sandbox's push and SMS twins in development).

`POST <base>/messages {"to", "text", "title"}` with `Authorization: Bearer <key>` and `Idempotency-Key`
(the notification's key: the provider answers a repeat with the first message, never sends it twice);
201/200 `{"id", "status"}`. 5xx, 429, timeouts and connection errors are worth a retry; another 4xx is a
refusal (`invalid_recipient` = bounced). Receipts come back by signed webhook (services/receipts.py).
"""

from __future__ import annotations

import requests
from django.conf import settings

from . import Accepted, OutgoingMessage, SendFailed

_session = requests.Session()


class MessagingProvider:
    def __init__(self, channel: str, base_url: str):
        self.channel = channel
        self.base_url = base_url.rstrip("/")

    def send(self, message: OutgoingMessage) -> Accepted:
        headers = {
            "Authorization": f"Bearer {settings.NOTIFICATION_PROVIDER_API_KEY}",
            "Idempotency-Key": message.key,
        }
        body = {"to": message.address, "text": message.text[:1000], "title": message.subject[:100]}
        try:
            answer = _session.post(
                f"{self.base_url}/messages",
                json=body,
                headers=headers,
                timeout=settings.NOTIFICATION_PROVIDER_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise SendFailed(
                f"{self.channel} provider unreachable: {type(exc).__name__}", permanent=False
            ) from None
        if answer.status_code in (200, 201):
            try:
                return Accepted(provider_ref=str(answer.json()["id"])[:120])
            except (ValueError, KeyError, TypeError):
                raise SendFailed(f"{self.channel} provider: unreadable answer", permanent=False) from None
        if answer.status_code >= 500 or answer.status_code == 429:
            raise SendFailed(f"{self.channel} provider answered {answer.status_code}", permanent=False)
        try:
            code = str(answer.json().get("code", ""))
        except (ValueError, AttributeError):
            code = ""
        raise SendFailed(
            f"{self.channel} provider refused ({answer.status_code} {code})"[:200],
            permanent=True,
            bounced=code == "invalid_recipient",
        )
