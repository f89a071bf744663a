"""Webhook signatures: HMAC-SHA256 over `<timestamp>.<raw body>`, sent as `X-Sandbox-Signature: t=..,v1=..`.

The monolith verifies with its own code; tests sign with this module to prove both sides agree.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Sandbox-Signature"


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers for one delivery of `body`; each delivery is signed afresh with the current time."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body, ts)}
