"""Service-to-service calls: `Authorization: Bearer <INTERNAL_API_TOKEN>` for /internal/ endpoints, and,
with mutual TLS configured (INTERNAL_TLS_CERT), the caller's certificate identity as well.

Views use `authentication_classes = [InternalTokenAuthentication]` and
`permission_classes = [IsInternalCaller]` (or `INTERNAL_API` as class attributes via `InternalAPIView`).
Each view declares `internal_callers`, the services allowed to call it; over mutual TLS any other identity
is refused (403 `caller_not_allowed`) even with the right bearer token, and so is a view that declares none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from contracts.errors import ApplicationError
from kernel.mtls import PEER_ENVIRON_KEY


@dataclass(frozen=True)
class InternalCaller:
    """The authenticated principal of an internal call (another service or a migration job)."""

    is_authenticated: bool = True
    is_internal: bool = True


def token_matches(presented: str) -> bool:
    """Constant-time comparison with settings.INTERNAL_API_TOKEN."""
    return hmac.compare_digest(presented.encode(), settings.INTERNAL_API_TOKEN.encode())


class InternalTokenAuthentication(BaseAuthentication):
    """Bearer INTERNAL_API_TOKEN. A wrong token is a 401 `authentication_failed`; none at all is left to
    the permission (401 `not_authenticated`)."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed bearer Authorization header")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed bearer token") from None
        if not token_matches(token):
            raise exceptions.AuthenticationFailed("Invalid internal API token")
        return InternalCaller(), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="internal"'


class IsInternalCaller(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, InternalCaller):
            return False
        if getattr(settings, "INTERNAL_TLS", None) is not None:
            check_peer(request, getattr(view, "internal_callers", ()))
        return True


def check_peer(request, callers: tuple[str, ...]) -> str:
    """The caller's service from its verified certificate, when it is one of `callers`; otherwise a 403
    `caller_not_allowed` that names both (never which token or certificate would pass)."""
    peer = request._request.META.get(PEER_ENVIRON_KEY)
    if peer is None:
        raise ApplicationError(
            "caller_not_allowed",
            "This internal endpoint needs a client certificate naming a service of this trust domain",
            status=403,
        )
    if peer not in callers:
        raise ApplicationError(
            "caller_not_allowed",
            f"The service {peer!r} may not call this endpoint",
            extra={"caller": peer, "allowed": sorted(callers)},
            status=403,
        )
    return peer


class InternalAPIView(APIView):
    """Base view of /internal/ endpoints: bearer token required."""

    authentication_classes = [InternalTokenAuthentication]
    permission_classes = [IsInternalCaller]
    internal_callers: tuple[str, ...] = ()  # the services (kernel.pki.SERVICES) that may call it
