"""Token exchange: a valid legacy credential (the monolith's opaque API token or session) for a JWT pair.

The monolith stays the judge of its own credentials: the auth service asks its GET /api/v1/accounts/me
with the credential and trusts the answer. The user is mirrored locally by legacy_user_id (created with
an unusable password if `sync users` has not brought it yet; role and email follow the monolith), then
an access + refresh token pair is minted through django-oauth-toolkit's own token machinery, so the
refresh token rotates, is reuse-protected and audited like any other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth2.rfc6749.tokens import BearerToken

from chassis.tracing import outbound_headers
from contracts.errors import ApplicationError

from .audit import Event, audit_record
from .models import Role, User

EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693's grant type name
LEGACY_SESSION_COOKIE = "sessionid"  # the monolith's Django session cookie
ME_PATH = "/api/v1/accounts/me"
# What the monolith issues (token_urlsafe keys, Django session keys) fits RFC 6750's b64token; anything
# else (non-ASCII, control characters, `;`) cannot go into a header or cookie and is no credential.
LEGACY_CREDENTIAL_PATTERN = r"\A[A-Za-z0-9\-._~+/]+=*\Z"


@dataclass(frozen=True)
class LegacyIdentity:
    id: int
    username: str
    email: str
    role: str


def legacy_identity_fetch(*, token: str = "", session: str = "") -> LegacyIdentity:
    """Who the monolith says this credential belongs to; 401 if it refuses it (or it is not
    credential-shaped, e.g. a garbled `sessionid` cookie, which could not even be sent)."""
    if not re.match(LEGACY_CREDENTIAL_PATTERN, token or session):
        raise ApplicationError(
            "invalid_legacy_credential", "The monolith does not accept this credential", status=401
        )
    headers = {"Authorization": f"Token {token}"} if token else {}
    headers.update(outbound_headers())  # the exchange request's trace continues at the monolith
    cookies = {LEGACY_SESSION_COOKIE: session} if session else {}
    try:
        answer = requests.get(
            settings.MONOLITH_URL.rstrip("/") + ME_PATH,
            headers=headers,
            cookies=cookies,
            timeout=(min(2.0, settings.AUTH_LEGACY_TIMEOUT_SECONDS), settings.AUTH_LEGACY_TIMEOUT_SECONDS),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ApplicationError(
            "legacy_unavailable",
            "The monolith could not be asked about this credential",
            status=503,
            extra={"error": type(exc).__name__},
        ) from None
    if answer.status_code in (401, 403):
        raise ApplicationError(
            "invalid_legacy_credential", "The monolith does not accept this credential", status=401
        )
    try:
        body = answer.json() if answer.status_code == 200 else None
        identity = LegacyIdentity(
            int(body["id"]), str(body["username"]), str(body["email"]), str(body["role"])
        )
    except (ValueError, KeyError, TypeError):
        raise ApplicationError(
            "legacy_error",
            "The monolith answered unexpectedly",
            status=502,
            extra={"status": answer.status_code},
        ) from None
    if identity.role not in Role.values:
        raise ApplicationError("legacy_error", f"Unknown legacy role {identity.role!r}", status=502)
    return identity


def user_mirror_get(*, identity: LegacyIdentity) -> User:
    """The local user of a legacy identity, mirrored first if `sync users` has not brought it yet."""
    user = User.objects.filter(legacy_user_id=identity.id).first()
    return user if user is not None else user_mirror_upsert(identity=identity)


def user_mirror_upsert(*, identity: LegacyIdentity) -> User:
    """The local user of a legacy identity; while `sync users` has not versioned it, its username, email
    and role follow the monolith's answer (a synced user changes only through the versioned sync, so a
    newer change made here is never overwritten by the monolith's older view)."""
    try:
        with transaction.atomic():
            user, created = User.objects.select_for_update().get_or_create(
                legacy_user_id=identity.id,
                defaults={"username": identity.username, "email": identity.email, "role": identity.role},
            )
            if created:
                user.set_unusable_password()  # `sync users` brings the monolith's hash later
                user.save(update_fields=["password"])
            elif user.version is None and (user.username, user.email, user.role) != (
                identity.username,
                identity.email,
                identity.role,
            ):
                user.username, user.email, user.role = identity.username, identity.email, identity.role
                user.save(update_fields=["username", "email", "role", "updated_at"])
    except IntegrityError:
        raise ApplicationError(
            "identity_conflict",
            "Another account here already holds this username or email",
            status=409,
            extra={"legacy_user_id": identity.id},
        ) from None
    return user


def token_pair_issue(*, user: User, application, scopes: list[str]) -> dict:
    """Mint and store an access + refresh token pair as the token endpoint would (same generator,
    same models, a new refresh token family, the token.issued audit line)."""
    kwargs = oauth2_settings.server_kwargs
    validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
    request = OAuthRequest("")
    request.user, request.client, request.client_id = user, application, application.client_id
    request.scopes, request.grant_type, request.refresh_token = scopes, EXCHANGE_GRANT, None
    bearer = BearerToken(
        validator,
        token_generator=kwargs["token_generator"],
        expires_in=kwargs["token_expires_in"],
        refresh_token_generator=kwargs["refresh_token_generator"],
    )
    token = bearer.create_token(request, refresh_token=True)
    validator.save_bearer_token(token, request)
    return dict(token)


def first_party_application(client_id: str):
    """The first-party (authorization code + PKCE) client named `client_id`, or 400 invalid_client."""
    application = (
        get_application_model()
        .objects.filter(client_id=client_id, authorization_grant_type="authorization-code")
        .first()
    )
    if application is None:
        raise ApplicationError("invalid_client", "No first-party client has this client_id", status=400)
    return application


def scopes_checked(scope: str) -> list[str]:
    scopes = scope.split()
    unknown = sorted(set(scopes) - set(oauth2_settings.SCOPES))
    if unknown:
        raise ApplicationError("invalid_scope", "Unknown scopes", extra={"scopes": unknown}, status=400)
    return scopes


def token_exchange(
    *, client_id: str, legacy_token: str = "", legacy_session: str = "", scope: str, ip: str = ""
) -> dict:
    """A valid legacy credential -> a JWT pair for first-party client `client_id`."""
    application = first_party_application(client_id)
    scopes = scopes_checked(scope)
    kind = "legacy_token" if legacy_token else "legacy_session"
    try:
        identity = legacy_identity_fetch(token=legacy_token, session=legacy_session)
    except ApplicationError as exc:
        audit_record(
            event=Event.TOKEN_ISSUED,
            outcome="refused",
            reason=exc.code,
            client_id=client_id,
            ip=ip,
            data={"grant_type": EXCHANGE_GRANT, "credential": kind},
        )
        raise
    user = user_mirror_upsert(identity=identity)
    return token_pair_issue(user=user, application=application, scopes=scopes)
