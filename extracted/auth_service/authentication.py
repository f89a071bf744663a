"""DRF authentication by a JWT access token, verified locally (no introspection call).

The principal is built from the token alone (subject, roles, scopes, legacy user id), so the same class
serves any resource server: `BearerJwtAuthentication` takes its keys from `key_for_kid` (a resource
server returns `JwksCache(...).key_for_kid(kid)`); `JwtAuthentication` is the auth service's own, on its
key store. Issuer and audience come from the settings AUTH_ISSUER and AUTH_AUDIENCE.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from rest_framework.authentication import BaseAuthentication

from contracts.errors import ApplicationError
from contracts.tokens import AccessTokenClaims, InvalidToken, bearer_token, verify_access_token


@dataclass(frozen=True)
class TokenPrincipal:
    """Who a verified access token speaks for (a user, or a client for client-credentials tokens)."""

    subject: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    legacy_user_id: int | None
    client_id: str | None

    is_authenticated = True
    is_anonymous = False

    @property
    def user_id(self) -> int | None:
        return int(self.subject) if self.subject.isdigit() else None

    @classmethod
    def from_claims(cls, claims: AccessTokenClaims) -> TokenPrincipal:
        return cls(claims.subject, claims.roles, claims.scopes, claims.legacy_user_id, claims.client_id)


class InvalidTokenError(ApplicationError):
    status_code = 401
    www_authenticate = 'Bearer realm="techstore", error="invalid_token"'


class BearerJwtAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def key_for_kid(self, kid: str):
        raise NotImplementedError("a resource server answers the public key of a kid (e.g. a JwksCache)")

    def authenticate(self, request):
        token = bearer_token(request.headers.get("Authorization", ""))
        if token is None:
            return None
        try:
            claims = verify_access_token(
                token,
                key_for_kid=self.key_for_kid,
                issuer=settings.AUTH_ISSUER,
                audience=settings.AUTH_AUDIENCE,
            )
        except InvalidToken as exc:
            raise InvalidTokenError(exc.code, exc.message) from None
        return TokenPrincipal.from_claims(claims), claims

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="techstore"'


class JwtAuthentication(BearerJwtAuthentication):
    """The auth service's own endpoints: keys straight from its key store."""

    def key_for_kid(self, kid: str):
        from . import keys  # the key store needs this service's models; resource servers never import it

        return keys.verifying_public_key(kid)
