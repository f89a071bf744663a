"""The signed internal identity header (`X-Strangler-Identity`): how the gateway tells the monolith who a
JWT-authenticated request speaks for, so the monolith never has to understand JWTs.

Pure Python (no Django): the gateway signs with it, the monolith's DRF authentication class verifies with
it; one copy of the format. A value is

    v1.<base64url(JSON {"uid", "roles", "scope", "jti", "exp"})>.<base64url(HMAC-SHA256)>

where the MAC covers the version, the payload AND the request's method and path (percent-decoded, no
query string), so a value captured from one request is refused on any other method or path; `exp` (epoch
seconds) keeps it short-lived (about 30 s). The key (INTERNAL_IDENTITY_KEY) is shared by the gateway and
the monolith only; the gateway strips every client-supplied X-Strangler-* header, so a client can never
present one of its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = "X-Strangler-Identity"
VERSION = "v1"
DEFAULT_TTL_SECONDS = 30
MIN_KEY_LENGTH = 32
DEV_INTERNAL_IDENTITY_KEY = "dev-only-internal-identity-key-not-for-production"  # DEV-ONLY
MAX_VALUE_LENGTH = 4096


class InvalidIdentity(Exception):
    """A header value was refused; `reason` says why (logs and tests; the client only sees the code)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InternalIdentity:
    """Who the gateway vouches for: the monolith's user id, the token's roles, scope and jti."""

    user_id: int
    roles: tuple[str, ...]
    scope: tuple[str, ...]
    jti: str
    expires_at: int


def check_key(key: str) -> bytes:
    """The key as bytes; ValueError if it is too short to be a MAC key."""
    if not isinstance(key, str) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the internal identity key must be at least {MIN_KEY_LENGTH} characters")
    return key.encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str, method: str, path: str) -> bytes:
    message = f"{VERSION}.{payload}\n{method.upper()}\n{path}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def sign_identity(
    *,
    key: str,
    user_id: int,
    roles: Sequence[str],
    scope: Sequence[str],
    jti: str,
    method: str,
    path: str,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """The header value for one request (`path`: percent-decoded, without the query string)."""
    expires = int(time.time() if now is None else now) + int(ttl_seconds)
    document = {
        "uid": int(user_id),
        "roles": list(roles),
        "scope": " ".join(scope),
        "jti": jti,
        "exp": expires,
    }
    payload = _b64(json.dumps(document, separators=(",", ":")).encode())
    return f"{VERSION}.{payload}.{_b64(_mac(check_key(key), payload, method, path))}"


def verify_identity(
    value: str, *, key: str, method: str, path: str, now: float | None = None
) -> InternalIdentity:
    """The identity a header value vouches for on this request; InvalidIdentity otherwise. The MAC is
    compared in constant time before the payload is parsed."""
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
        raise InvalidIdentity("malformed")
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise InvalidIdentity("malformed")
    _, payload, signature = parts
    try:
        given = _unb64(signature)
    except (ValueError, TypeError):
        raise InvalidIdentity("malformed") from None
    if not hmac.compare_digest(given, _mac(check_key(key), payload, method, path)):
        raise InvalidIdentity("bad_signature")  # also: signed for another method or path
    try:
        document = json.loads(_unb64(payload))
        user_id, expires = document["uid"], document["exp"]
        roles = tuple(str(role) for role in document.get("roles") or ())
        scope = tuple(str(document.get("scope") or "").split())
        jti = str(document.get("jti") or "")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InvalidIdentity("malformed") from None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(expires, int):
        raise InvalidIdentity("malformed")
    if expires <= int(time.time() if now is None else now):
        raise InvalidIdentity("expired")
    return InternalIdentity(user_id=user_id, roles=roles, scope=scope, jti=jti, expires_at=expires)
