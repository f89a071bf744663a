"""The dual-mode bridge: requests that reach the accounts endpoints here with a LEGACY credential (the
monolith's `Authorization: Token <key>` or its `sessionid` cookie), while users still hold them.

The monolith stays the judge of its credentials (exchange.legacy_identity_fetch asks its
GET /api/v1/accounts/me on every such request); the caller is then the local user of that legacy id. As on
the monolith, a session (cookie) needs its CSRF token on unsafe methods: the `csrftoken` cookie the
monolith set, echoed in X-CSRFToken (Django's own check; the gateway serves both on one host). Turned off
with AUTH_LEGACY_CREDENTIALS=false once `legacy_sessions report` shows none left (README, Legacy
sessions)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, CSRFCheck, get_authorization_header

from contracts.errors import ApplicationError

from .. import exchange


def _csrf_enforce(request) -> None:
    check = CSRFCheck(lambda _request: None)
    check.process_request(request)
    reason = check.process_view(request, None, (), {})
    if reason:
        raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")


class LegacyCredentialAuthentication(BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        if not settings.AUTH_LEGACY_CREDENTIALS:
            return None
        header = get_authorization_header(request).split()
        token = session = ""
        if header and header[0].lower() == self.keyword.lower().encode():
            if len(header) != 2:
                raise exceptions.AuthenticationFailed(
                    "Malformed Authorization header: expected 'Token <key>'"
                )
            token = header[1].decode("latin-1")
        elif not header:
            session = request.COOKIES.get(exchange.LEGACY_SESSION_COOKIE, "")
        if not (token or session):
            return None
        try:
            identity = exchange.legacy_identity_fetch(token=token, session=session)
        except ApplicationError as exc:
            if exc.status_code == 401:
                raise exceptions.AuthenticationFailed("Invalid, expired or revoked token") from None
            raise
        user = exchange.user_mirror_get(identity=identity)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if session:
            _csrf_enforce(request._request)
        return user, None

    def authenticate_header(self, request) -> str:
        return self.keyword


class LegacyCredentialScheme(OpenApiAuthenticationExtension):
    """How the schema documents the dual-mode legacy credential."""

    target_class = LegacyCredentialAuthentication
    name = "legacyToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The monolith's opaque API token (`Token <key>`) or its `sessionid` cookie, "
            "checked at the monolith while AUTH_LEGACY_CREDENTIALS is on",
        }
