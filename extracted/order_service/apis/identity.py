"""Who is calling the Order service: the monolith's users, identified the way the monolith would.

- `X-Strangler-Identity`, signed by the gateway with INTERNAL_IDENTITY_KEY (JWT users): verified locally.
- A legacy `Authorization: Token <key>` or the `sessionid` cookie: the monolith is asked who it is
  (`MONOLITH_URL/api/v1/accounts/me`, the same credential), and the answer is cached for
  ORDER_IDENTITY_CACHE_SECONDS under a digest of the credential (never the credential itself). A refusal is
  the monolith's own 401, so a client sees the same answer from either side. Session writes must carry the
  CSRF token, as on the monolith.

A user is its monolith id and role; the service keeps no user table.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache
from django.middleware.csrf import CsrfViewMiddleware
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

IDENTITY_META = "HTTP_X_STRANGLER_IDENTITY"
STAFF_ROLES = frozenset({"staff", "admin"})


@dataclass(frozen=True)
class ServiceUser:
    id: int
    role: str
    is_authenticated: bool = True

    @property
    def pk(self) -> int:
        return self.id

    @property
    def is_staff_role(self) -> bool:
        return self.role in STAFF_ROLES


class MonolithAnswer(exceptions.APIException):
    """The monolith's own refusal of a credential, passed on unchanged (status, code, message)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(detail=message, code=code)
        self.status_code = status
        self.default_code = code  # the chassis' handler renders it as the error's code


class IdentityUnavailable(exceptions.APIException):
    status_code = 503
    default_code = "identity_unavailable"
    default_detail = "The accounts service could not confirm who you are; retry in a moment"


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
            raise MonolithAnswer(
                401, "invalid_identity", "The internal identity header is not valid"
            ) from None
        role = identity.roles[0] if identity.roles else "customer"
        return ServiceUser(int(identity.user_id), role), identity

    def authenticate_header(self, request) -> str:
        return "Token"


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


class LegacyCredentialAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request)
        cookie = request.COOKIES.get("sessionid")
        if header[:6].lower() == b"token ":
            credential, kind = header.decode("latin-1"), "token"
        elif cookie and not header:
            credential, kind = cookie, "session"
        else:
            return None
        user = self._lookup(credential, kind)
        if kind == "session":
            self._enforce_csrf(request)
        return user, None

    def _lookup(self, credential: str, kind: str) -> ServiceUser:
        digest = hashlib.sha256(f"{kind}:{credential}".encode()).hexdigest()
        key = f"identity:{digest}"
        found = cache.get(key)
        if found is None:
            found = self._ask_monolith(credential, kind)
            cache.set(key, found, settings.ORDER_IDENTITY_CACHE_SECONDS if found[0] == 200 else 5)
        status, body = found
        if status != 200:
            raise MonolithAnswer(status, body.get("code", "authentication_failed"), body.get("message", ""))
        return ServiceUser(int(body["id"]), str(body.get("role") or "customer"))

    def _ask_monolith(self, credential: str, kind: str) -> tuple[int, dict]:
        headers = {"Authorization": credential} if kind == "token" else {}
        cookies = {"sessionid": credential} if kind == "session" else {}
        try:
            response = requests.get(
                f"{settings.MONOLITH_URL.rstrip('/')}/api/v1/accounts/me",
                headers=headers,
                cookies=cookies,
                timeout=(1.0, 3.0),
            )
            body = response.json()
        except (requests.RequestException, ValueError):
            raise IdentityUnavailable() from None
        if response.status_code >= 500 or not isinstance(body, dict):
            raise IdentityUnavailable()
        if response.status_code == 200:
            return 200, {"id": body.get("id"), "role": body.get("role")}
        return response.status_code, {"code": body.get("code"), "message": body.get("message")}

    def _enforce_csrf(self, request) -> None:
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return
        check = _CsrfCheck(lambda req: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")

    def authenticate_header(self, request) -> str:
        return "Token"
