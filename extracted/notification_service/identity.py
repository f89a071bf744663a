"""Who is calling /api/v2/notifications, in the monolith's terms (its user ids and roles):

- `X-Strangler-Identity`, signed by the gateway with INTERNAL_IDENTITY_KEY (bound to the request's method,
  path and body, replay-guarded);
- `Authorization: Bearer <JWT>` from the Auth service (the gateway forwards it to a service route once it
  has checked it), verified here too against the Auth service's JWKS (ES256 pinned, AUTH_ISSUER,
  AUTH_AUDIENCE); the user is the token's `legacy_user_id`;
- the monolith's own credentials (`Authorization: Token <key>`, the `sessionid` cookie), which the gateway
  forwards unchanged to a service route and which only the monolith can judge: asked at
  MONOLITH_URL/api/v1/accounts/me, the answer cached for 60 s by a hash of the credential (a refused one
  for 10 s; the credential itself is never kept). A write on the session cookie must carry the CSRF token,
  as on the monolith.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework.authentication import BaseAuthentication

from chassis.identity import verify_bearer_access_token
from contracts.errors import ApplicationError

IDENTITY_META = "HTTP_X_STRANGLER_IDENTITY"
ME_PATH = "/api/v1/accounts/me"
SESSION_COOKIE = "sessionid"
CREDENTIAL_PATTERN = re.compile(r"\A[A-Za-z0-9\-._~+/]+=*\Z")
LEGACY_CACHE_SECONDS, LEGACY_REFUSED_SECONDS = 60, 10
LEGACY_TIMEOUT = (1.0, 5.0)  # connect, read: the monolith answers /me from its own tables


@dataclass(frozen=True)
class NotificationUser:
    id: int
    role: str
    is_authenticated: bool = True

    @property
    def pk(self) -> int:
        return self.id


class GatewayIdentityAuthentication(BaseAuthentication):
    def authenticate(self, request):
        value = request.META.get(IDENTITY_META)
        key = settings.INTERNAL_IDENTITY_KEY
        if value is None or not key:
            return None
        from chassis.identity import verify_request_identity
        from contracts.identity import InvalidIdentity

        try:
            identity = verify_request_identity(request, value, key=key)
        except InvalidIdentity:
            raise ApplicationError(
                "invalid_identity", "The internal identity header is not valid", status=401
            ) from None
        role = identity.roles[0] if identity.roles else "customer"
        return NotificationUser(int(identity.user_id), role), identity

    def authenticate_header(self, request) -> str:
        return "Bearer"


class AccessTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        claims = verify_bearer_access_token(request)
        if claims is None:
            return None
        role = next((r for r in ("admin", "staff") if r in claims.roles), "customer")
        return NotificationUser(int(claims.legacy_user_id), role), claims

    def authenticate_header(self, request) -> str:
        return "Bearer"


class LegacyCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token.strip():
            header, value = "Authorization", f"Token {token.strip()}"
            secret = token.strip()
        elif request.COOKIES.get(SESSION_COOKIE):
            secret = request.COOKIES[SESSION_COOKIE]
            header, value = "Cookie", f"{SESSION_COOKIE}={secret}"
        else:
            return None
        if not CREDENTIAL_PATTERN.match(secret):
            raise ApplicationError("authentication_failed", "Invalid token.", status=401)
        user = legacy_user(header, value)
        if header == "Cookie":
            _enforce_csrf(request)
        return user, None

    def authenticate_header(self, request) -> str:
        return "Token"


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _enforce_csrf(request) -> None:
    """A session is a browser's: its writes need the CSRF token (cookie + header), as the monolith's do."""
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    check = _CsrfCheck(lambda req: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise ApplicationError("csrf_failed", f"CSRF Failed: {reason}", status=403)


def legacy_user(header: str, value: str) -> NotificationUser:
    """The monolith's answer about a credential (cached by its hash)."""
    key = "legacy-credential:" + hashlib.sha256(f"{header}\n{value}".encode()).hexdigest()
    cached = cache.get(key)
    if cached == "refused":
        raise ApplicationError("authentication_failed", "Invalid token.", status=401)
    if cached is not None:
        return NotificationUser(*cached)
    try:
        answer = requests.get(
            settings.MONOLITH_URL.rstrip("/") + ME_PATH,
            headers={header: value},
            timeout=LEGACY_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException:
        raise ApplicationError(
            "legacy_unavailable", "The monolith could not be asked about this credential", status=503
        ) from None
    if answer.status_code in (401, 403):
        cache.set(key, "refused", LEGACY_REFUSED_SECONDS)
        raise ApplicationError("authentication_failed", "Invalid token.", status=401)
    try:
        body = answer.json()
        user = (int(body["id"]), str(body["role"]))
    except (ValueError, KeyError, TypeError):
        raise ApplicationError("legacy_error", "The monolith answered unexpectedly", status=502) from None
    cache.set(key, user, LEGACY_CACHE_SECONDS)
    return NotificationUser(*user)
