"""Deliver gateway events to the configured webhook URL: signed, in a background thread, with retries."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import TYPE_CHECKING

import requests

from .signing import signed_headers

if TYPE_CHECKING:
    from .knobs import Knobs
    from .state import Event, Gateway

DELIVERY_TIMEOUT_SECONDS = 5


def schedule(gateway: Gateway, event: Event, knobs: Knobs, generation: int) -> None:
    thread = threading.Thread(
        target=_deliver_with_retries,
        args=(gateway, event, knobs, generation),
        name=f"webhook-{event.id}",
        daemon=True,
    )
    thread.start()


def _deliver_with_retries(gateway: Gateway, event: Event, knobs: Knobs, generation: int) -> None:
    time.sleep(knobs.webhook_delay_ms / 1000)
    for attempt in range(1, knobs.webhook_max_attempts + 1):
        if gateway.generation != generation:
            return  # the sandbox was reset meanwhile
        delivery = deliver(
            gateway, event, url=knobs.webhook_url, secret=knobs.webhook_secret, attempt=attempt
        )
        gateway.record_delivery(delivery, generation)
        if delivery["response_status"] is not None and 200 <= delivery["response_status"] < 300:
            return
        time.sleep(knobs.webhook_retry_delay_ms * 2 ** (attempt - 1) / 1000)


def deliver(
    gateway: Gateway, event: Event, *, url: str, secret: str, attempt: int, trigger: str = "auto"
) -> dict:
    """POST one signed delivery and describe what happened (never raises)."""
    body = json.dumps(event.envelope(gateway.name), separators=(",", ":")).encode()
    headers = {
        **signed_headers(secret, body),
        "X-Sandbox-Event-Id": event.id,
        "X-Sandbox-Delivery-Attempt": str(attempt),
    }
    status, error, answer = None, None, ""
    try:
        response = requests.post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS)
        status, answer = response.status_code, response.text[:500]
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    return {
        "event_id": event.id,
        "type": event.type,
        "url": url,
        "attempt": attempt,
        "trigger": trigger,
        "response_status": status,
        "response_body": answer,
        "error": error,
        "at": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
