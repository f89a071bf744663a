"""Who is calling, as far as the Product service may trust it.

The service sits behind the gateway, which strips every client-supplied `X-Strangler-*` header. Two headers
then reach the service from the gateway only:
- `X-Strangler-User-Id`: the user the gateway identified (legacy token or session). Nothing proves it came
  from the gateway, and it carries no role: the service uses it for logs only and grants nothing on it.
- `X-Strangler-Identity` (JWT users, once the Auth service issues tokens): signed by the gateway with
  INTERNAL_IDENTITY_KEY, bound to the request's method and path, valid ~30 s
  (extracted/auth_service/internal_identity.py, the monolith verifies the same header). When the service
  is given that key, a valid header's roles count: `staff`/`admin` is staff, as in the monolith; an
  invalid one is 401 `invalid_identity`, as in the monolith. Without the key the header is ignored.

So without a signed staff identity every caller is non-staff: `include_inactive=true` is 403
permission_denied and an inactive product is 404, exactly the monolith's answers to anonymous and customer
requests.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

USER_ID_HEADER = "X-Strangler-User-Id"
IDENTITY_META = "HTTP_X_STRANGLER_IDENTITY"
STAFF_ROLES = frozenset({"staff", "admin"})


@dataclass(frozen=True)
class GatewayUser:
    """The user a signed gateway identity speaks for (the service keeps no user table)."""

    user_id: int
    roles: tuple[str, ...]
    is_authenticated: bool = True

    @property
    def is_staff(self) -> bool:
        return bool(STAFF_ROLES & set(self.roles))


class InvalidIdentityHeader(exceptions.APIException):
    """401 `invalid_identity`, with the monolith's message and scheme."""

    status_code = 401
    default_code = "invalid_identity"
    default_detail = "The internal identity header is not valid"
    auth_header = 'Token realm="api"'


class GatewayIdentityAuthentication(BaseAuthentication):
    """The signed X-Strangler-Identity, when the service holds INTERNAL_IDENTITY_KEY; else nobody."""

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
            raise InvalidIdentityHeader() from None
        return GatewayUser(identity.user_id, identity.roles), identity

    def authenticate_header(self, request) -> str:
        return InvalidIdentityHeader.auth_header


class GatewayIdentityScheme(OpenApiAuthenticationExtension):
    """How the schema documents the gateway's signed identity."""

    target_class = "extracted.product_service.api.identity.GatewayIdentityAuthentication"
    name = "gatewayIdentity"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Strangler-Identity",
            "description": "set by the gateway only (clients' X-Strangler-* headers are stripped)",
        }


def caller_user_id(request) -> str | None:
    """The user id the gateway reported (logs and metrics only; grants nothing)."""
    return request.headers.get(USER_ID_HEADER) or None


def caller_is_staff(request) -> bool:
    """Staff only on a valid signed gateway identity with a staff or admin role."""
    return bool(getattr(request.user, "is_staff", False))
