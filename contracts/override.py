"""The tester override: a signed value that lets one STAFF identity use a route's target before any
customer does. Minted by `manage.py rollout override` (later by the status page), honoured by the gateway
(strangler_proxy/override.py) only when the request's own identity is that staff user.

    ov1.<base64url(JSON {"sub", "routes", "iat", "exp", "jti"})>.<base64url(HMAC-SHA256 of "ov1.<payload>")>

Sent as the `X-Tester-Override` header or the `tester_override` cookie. `routes` lists route ids (or "*").
The key (TESTER_OVERRIDE_KEY, at least 32 characters) is shared by the gateway and whoever mints; without
it the gateway honours no override. Pure Python: one copy of the format for both sides."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

VERSION = "ov1"
HEADER = "X-Tester-Override"
COOKIE = "tester_override"
KEY_ENV = "TESTER_OVERRIDE_KEY"
MIN_KEY_LENGTH = 32
MAX_TTL_SECONDS = 7 * 24 * 3600
MAX_VALUE_LENGTH = 2048


class InvalidOverride(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OverrideGrant:
    user_id: str
    routes: tuple[str, ...]
    issued_at: int
    expires_at: int
    jti: str

    def covers(self, route_id: str) -> bool:
        return "*" in self.routes or route_id in self.routes


def check_key(key: str) -> bytes:
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{KEY_ENV} must be at least {MIN_KEY_LENGTH} characters")
    return key.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


def mint_override(
    key: str, *, user_id: str, routes: Sequence[str], ttl_seconds: int, now: float | None = None
) -> tuple[str, OverrideGrant]:
    if not routes:
        raise ValueError("an override names at least one route (or '*')")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"an override lasts from 1 second to {MAX_TTL_SECONDS // 86400} days")
    issued = int(now if now is not None else time.time())
    expires = issued + int(ttl_seconds)
    grant = OverrideGrant(str(user_id), tuple(routes), issued, expires, secrets.token_hex(8))
    payload = {
        "sub": grant.user_id,
        "routes": list(grant.routes),
        "iat": grant.issued_at,
        "exp": grant.expires_at,
        "jti": grant.jti,
    }
    signed = f"{VERSION}.{_b64(json.dumps(payload, separators=(',', ':'), sort_keys=True).encode())}"
    return f"{signed}.{_mac(check_key(key), signed)}", grant


def verify_override(key: bytes, value: str, *, now: float | None = None) -> OverrideGrant:
    """The grant a value carries; InvalidOverride naming why it is refused."""
    if not value or len(value) > MAX_VALUE_LENGTH:
        raise InvalidOverride("malformed")
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidOverride("malformed")
    signed = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_mac(key, signed), parts[2]):
        raise InvalidOverride("bad_signature")
    try:
        payload = json.loads(_unb64(parts[1]))
        grant = OverrideGrant(
            user_id=str(payload["sub"]),
            routes=tuple(str(r) for r in payload["routes"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            jti=str(payload["jti"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidOverride("malformed") from None
    if grant.expires_at <= (now if now is not None else time.time()):
        raise InvalidOverride("expired")
    return grant
