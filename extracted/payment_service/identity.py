"""Who is calling the Payment service's /api/v1 endpoints, in the monolith's terms (its user ids and roles).

Three credentials, tried in the monolith's order:
- `X-Strangler-Identity`, signed by the gateway with INTERNAL_IDENTITY_KEY (when this service holds the
  key), bound to method and path: the same header the monolith verifies;
- `Authorization: Bearer <JWT>` from the Auth service, verified locally against its JWKS (ES256 pinned,
  AUTH_ISSUER, AUTH_AUDIENCE); the user is the token's `legacy_user_id`;
- the monolith's own credentials (`Authorization: Token <key>`, the `sessionid` cookie), which only the
  monolith can judge: asked at MONOLITH_URL/api/v1/accounts/me, the answer cached for 60 s by a hash of
  the credential (a refused one for 10 s).
Every refusal is a 401 in the monolith's shape; the scheme offered is the monolith's (`Token`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.core.cache import cache as django_cache
from rest_framework.authentication import BaseAuthentication

from chassis.identity import verify_bearer_access_token
from contracts.errors import ApplicationError
from contracts.tokens import bearer_token

STAFF_ROLES = frozenset({"staff", "admin"})
ME_PATH = "/api/v1/accounts/me"
SESSION_COOKIE = "sessionid"
CREDENTIAL_PATTERN = re.compile(r"\A[A-Za-z0-9\-._~+/]+=*\Z")
LEGACY_CACHE_SECONDS, LEGACY_REFUSED_SECONDS = 60, 10


@dataclass(frozen=True)
class PaymentUser:
    """A user of the monolith, as the caller's credential proves it."""

    user_id: int
    roles: tuple[str, ...]
    # The credential as it came (header name, value), for calls made on the user's behalf (shadow lookups).
    credential: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    is_authenticated: bool = True

    @property
    def pk(self) -> int:
        return self.user_id

    @property
    def role(self) -> str:
        return next(
            (r for r in ("admin", "staff") if r in self.roles), self.roles[0] if self.roles else "customer"
        )

    @property
    def is_staff(self) -> bool:
        return bool(STAFF_ROLES & set(self.roles))


class _Base(BaseAuthentication):
    def authenticate_header(self, request) -> str:
        return "Token"


class GatewayIdentityAuthentication(_Base):
    def authenticate(self, request):
        value = request.META.get("HTTP_X_STRANGLER_IDENTITY")
        if value is None or not settings.INTERNAL_IDENTITY_KEY:
            return None
        from chassis.identity import verify_request_identity
        from contracts.identity import InvalidIdentity

        try:
            identity = verify_request_identity(request, value, key=settings.INTERNAL_IDENTITY_KEY)
        except InvalidIdentity:
            raise ApplicationError(
                "invalid_identity", "The internal identity header is not valid", status=401
            ) from None
        return PaymentUser(identity.user_id, identity.roles), identity


class AccessTokenAuthentication(_Base):
    def authenticate(self, request):
        claims = verify_bearer_access_token(request)
        if claims is None:
            return None
        credential = (("Authorization", f"Bearer {bearer_token(request.headers['Authorization'])}"),)
        return PaymentUser(claims.legacy_user_id, claims.roles, credential), claims


class LegacyCredentialAuthentication(_Base):
    def authenticate(self, request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token" and token:
            credential = (("Authorization", f"Token {token.strip()}"),)
        elif request.COOKIES.get(SESSION_COOKIE):
            credential = (("Cookie", f"{SESSION_COOKIE}={request.COOKIES[SESSION_COOKIE]}"),)
        else:
            return None
        value = credential[0][1].split(" ", 1)[-1].split("=", 1)[-1]
        if not CREDENTIAL_PATTERN.match(value):
            raise ApplicationError("authentication_failed", "Invalid token.", status=401)
        return legacy_user(credential), None


def legacy_user(credential: tuple[tuple[str, str], ...]) -> PaymentUser:
    """The monolith's answer about a credential (cached by its hash; the credential itself is not kept)."""
    key = "legacy-credential:" + hashlib.sha256(repr(credential).encode()).hexdigest()
    cached = django_cache.get(key)
    if cached == "refused":
        raise ApplicationError("authentication_failed", "Invalid token.", status=401)
    if cached is not None:
        return PaymentUser(cached[0], tuple(cached[1]), credential)
    try:
        answer = requests.get(
            settings.MONOLITH_URL.rstrip("/") + ME_PATH,
            headers=dict(credential),
            timeout=(1.0, settings.PAYMENT_ORDER_LOOKUP_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException:
        raise ApplicationError(
            "legacy_unavailable", "The monolith could not be asked about this credential", status=503
        ) from None
    if answer.status_code in (401, 403):
        django_cache.set(key, "refused", LEGACY_REFUSED_SECONDS)
        raise ApplicationError("authentication_failed", "Invalid token.", status=401)
    try:
        body = answer.json()
        user_id, role = int(body["id"]), str(body["role"])
    except (ValueError, KeyError, TypeError):
        raise ApplicationError("legacy_error", "The monolith answered unexpectedly", status=502) from None
    django_cache.set(key, (user_id, [role]), LEGACY_CACHE_SECONDS)
    return PaymentUser(user_id, (role,), credential)
