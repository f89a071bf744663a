"""DRF authentication: the gateway's signed internal identity header (`X-Strangler-Identity`, for users
who came with a JWT) and the legacy opaque API token (`Authorization: Token <key>`)."""

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from chassis.identity import verify_request_identity
from contracts.identity import InvalidIdentity

from .models import ApiToken

IDENTITY_META = "HTTP_X_STRANGLER_IDENTITY"


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class LegacyCredentialsRetired(exceptions.APIException):
    """401 `legacy_credentials_retired`: a legacy token or session after LEGACY_CREDENTIALS was turned off
    (refused by name, never served as anonymous)."""

    status_code = 401
    default_code = "legacy_credentials_retired"
    default_detail = "Legacy sessions and API tokens are turned off: log in at the Auth service for a token"


class LegacyTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if not settings.LEGACY_CREDENTIALS:
            raise LegacyCredentialsRetired()
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header: expected 'Token <key>'")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Token contains invalid characters") from exc
        now = timezone.now()
        token = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=token_hash(key), revoked_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token")
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class LegacySessionAuthentication(authentication.SessionAuthentication):
    """Django's session (CSRF enforced as DRF does) until LEGACY_CREDENTIALS is turned off; then a session
    counts for nothing here (a browser's stale cookie leaves it anonymous, as an expired session would)."""

    def authenticate(self, request):
        if not settings.LEGACY_CREDENTIALS:
            return None
        return super().authenticate(request)


class InvalidIdentityHeader(exceptions.APIException):
    """401 `invalid_identity` (an APIException, so DRF marks the request unauthenticated first)."""

    status_code = 401
    default_code = "invalid_identity"
    default_detail = "The internal identity header is not valid"
    auth_header = 'Token realm="api"'


def _invalid_identity() -> InvalidIdentityHeader:
    return InvalidIdentityHeader()


class InternalIdentityAuthentication(authentication.BaseAuthentication):
    """The user the gateway vouches for with X-Strangler-Identity (see
    contracts.identity): HMAC-SHA256 under INTERNAL_IDENTITY_KEY, compared in constant
    time, bound to this request's method and path, about 30 s old at most. A bad, expired or
    replayed-elsewhere value, or one naming an unknown or inactive user, is 401 `invalid_identity` (never
    a fall-through to anonymous). `request.auth` is the InternalIdentity (roles, scope, jti). Clients cannot
    send one: the gateway strips every client X-Strangler-* header. The monolith never parses JWTs."""

    def authenticate(self, request):
        value = request.META.get(IDENTITY_META)
        if value is None:
            return None
        try:
            identity = verify_request_identity(request, value, key=settings.INTERNAL_IDENTITY_KEY)
        except InvalidIdentity:
            raise _invalid_identity() from None
        user = get_user_model().objects.filter(pk=identity.user_id, is_active=True).first()
        if user is None:
            raise _invalid_identity()
        return user, identity

    def authenticate_header(self, request):
        # First in DEFAULT_AUTHENTICATION_CLASSES, so DRF takes every 401's scheme from here: keep the
        # monolith's answers to unauthenticated clients exactly as they were (the legacy token scheme).
        return LegacyTokenAuthentication.keyword


class LegacyTokenScheme(OpenApiAuthenticationExtension):
    """Describes the legacy token in the OpenAPI schema (/api/schema/)."""

    target_class = LegacyTokenAuthentication
    name = "legacyToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Legacy opaque API token from POST /api/v1/accounts/tokens: `Token <key>`",
        }


class LegacySessionScheme(SessionScheme):
    """The session cookie, documented as DRF's own session authentication is (cookieAuth)."""

    target_class = LegacySessionAuthentication
    priority = 0


class InternalIdentityScheme(OpenApiAuthenticationExtension):
    """Describes the gateway's signed identity header in the OpenAPI schema (set by the gateway only)."""

    target_class = InternalIdentityAuthentication
    name = "gatewayIdentity"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Strangler-Identity",
            "description": "Set by the strangler gateway for JWT users (HMAC-signed, about 30 s, bound to "
            "the method and path); stripped from client requests",
        }
