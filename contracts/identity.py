"""The signed internal identity header (`X-Strangler-Identity`): how the gateway tells the monolith who a
JWT-authenticated request speaks for, so the monolith never has to understand JWTs.

Pure Python (no Django): the gateway signs with it, the monolith's DRF authentication class (and any
service holding the key) verifies with it; one copy of the format. A value is

    v1.<base64url(JSON {"uid", "roles", "scope", "jti", "nid", "exp", "q", "bh"})>.<base64url(HMAC-SHA256)>

where the MAC covers the version, the payload AND the request's method and path (percent-decoded, no
query string). The payload binds the rest of the request: `q` the raw query string and `bh` the SHA-256
of the body (the gateway always binds both; a value signed without them, as test fixtures do, binds only
method and path). `nid` is unique to each value: a verifier remembers the ids it has seen until they
expire (a ReplayGuard, in Redis so every verifier shares it), so a captured value is refused the second
time, whatever request carries it. `jti` is the access token's. `exp` (epoch seconds) keeps a value
short-lived (about 30 s). The key (INTERNAL_IDENTITY_KEY) is shared by the gateway and the verifiers
only; the gateway strips every client-supplied X-Strangler-* header, so a client can never present one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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
    """Who the gateway vouches for: the monolith's user id, the token's roles, scope and jti; `nid` is the
    value's own id (the replay guard's key)."""

    user_id: int
    roles: tuple[str, ...]
    scope: tuple[str, ...]
    jti: str
    expires_at: int
    nid: str = ""


class ReplayGuard(Protocol):
    """Remembers value ids until they expire. `first_use` is True the first time an id is seen and False
    ever after; it raises when it cannot tell (the verifier then refuses the value)."""

    def first_use(self, nid: str, expires_at: int) -> bool: ...


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


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
    query: str | None = None,
    body: bytes | None = None,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """The header value for one request (`path`: percent-decoded, without the query string; `query`: the
    raw query string and `body`: the raw body, each bound when given)."""
    expires = int(time.time() if now is None else now) + int(ttl_seconds)
    document = {
        "uid": int(user_id),
        "roles": list(roles),
        "scope": " ".join(scope),
        "jti": jti,
        "nid": uuid.uuid4().hex,
        "exp": expires,
    }
    if query is not None:
        document["q"] = query
    if body is not None:
        document["bh"] = body_hash(body)
    payload = _b64(json.dumps(document, separators=(",", ":")).encode())
    return f"{VERSION}.{payload}.{_b64(_mac(check_key(key), payload, method, path))}"


def verify_identity(
    value: str,
    *,
    key: str,
    method: str,
    path: str,
    query: str,
    body: bytes,
    replay: ReplayGuard | None,
    now: float | None = None,
) -> InternalIdentity:
    """The identity a header value vouches for on this request; InvalidIdentity otherwise. The MAC is
    compared in constant time before the payload is parsed; then the bound query and body must be this
    request's, the value must not have expired, and `replay` must not have seen it (None: no replay
    check, for callers that have none to share, such as tests of the format)."""
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
        nid = str(document.get("nid") or "")
        bound_query, bound_body = document.get("q"), document.get("bh")
    except (ValueError, TypeError, KeyError, AttributeError):
        raise InvalidIdentity("malformed") from None
    if not isinstance(user_id, int) or isinstance(user_id, bool) or not isinstance(expires, int):
        raise InvalidIdentity("malformed")
    if bound_query is not None and bound_query != query:
        raise InvalidIdentity("other_query")
    if bound_body is not None and not hmac.compare_digest(str(bound_body), body_hash(body)):
        raise InvalidIdentity("other_body")
    if expires <= int(time.time() if now is None else now):
        raise InvalidIdentity("expired")
    if replay is not None:
        if not nid:
            raise InvalidIdentity("malformed")
        try:
            first = replay.first_use(nid, expires)
        except Exception:  # the guard cannot tell: refuse rather than risk a replay
            raise InvalidIdentity("replay_check_unavailable") from None
        if not first:
            raise InvalidIdentity("replayed")
    return InternalIdentity(user_id=user_id, roles=roles, scope=scope, jti=jti, expires_at=expires, nid=nid)
