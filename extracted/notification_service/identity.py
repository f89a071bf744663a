"""Who is calling: the gateway's signed X-Strangler-Identity (INTERNAL_IDENTITY_KEY, bound to the request's
method, path and body, replay-guarded). Users reach /api/v2/notifications only through the gateway, which
turns their token or session into this header."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from rest_framework.authentication import BaseAuthentication

from contracts.errors import ApplicationError

IDENTITY_META = "HTTP_X_STRANGLER_IDENTITY"


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
