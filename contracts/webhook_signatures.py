"""Provider webhook signatures: `t=<unix ts>,v1=<hex HMAC-SHA256 of "<ts>.<raw body>">` (the sandbox signs
them so, sandbox/signing.py). One verifier for the monolith and the Payment service."""

from __future__ import annotations

import hashlib
import hmac

from contracts.errors import ApplicationError


def _invalid(reason: str, message: str) -> ApplicationError:
    return ApplicationError("webhook_signature_invalid", message, extra={"reason": reason}, status=401)


def verify_signature(
    *, body: bytes, header: str | None, secret: str, now: float, tolerance_seconds: int
) -> None:
    """Raise 401 webhook_signature_invalid unless one v1 signature matches and the timestamp is fresh.

    The timestamp is inside the signed text, so an attacker cannot refresh a captured delivery: an old one is
    refused as a replay (duplicates inside the window are caught by the stored event id).
    """
    if not header:
        raise _invalid("missing", "The webhook signature header is missing")
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise _invalid("malformed", "The webhook signature header is malformed")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
        raise _invalid("mismatch", "The webhook signature does not match")
    if abs(now - timestamp) > tolerance_seconds:
        raise _invalid("stale", "The webhook timestamp is outside the tolerance: refused as a replay")
