"""django-oauth-toolkit wiring: our ES256 JWTs as access tokens, OIDC claims, an authorization code that
dies with a failed PKCE verification, and the audit trail of token issue, refresh, revoke and refresh-token
reuse."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749.errors import InvalidRequestError

from contracts.tokens import issue_access_token

from . import keys
from .audit import Event, audit_record

CLIENT_SUBJECT_PREFIX = "client:"  # sub of a client-credentials token (no user)
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 4.2 (S256: BASE64URL of a SHA-256)


def _user_of(request):
    user = getattr(request, "user", None)
    if request.grant_type == "client_credentials" or user is None or not user.is_authenticated:
        return None
    return user


def access_token_generator(request, refresh_token: bool = False) -> str:
    """ACCESS_TOKEN_GENERATOR: oauthlib calls it with the token request once it is validated."""
    user = _user_of(request)
    client_id = request.client.client_id
    material = keys.signing_key_active()
    return issue_access_token(
        private_key=material.private_key,
        kid=material.kid,
        issuer=settings.AUTH_ISSUER,
        audience=settings.AUTH_AUDIENCE,
        subject=str(user.pk) if user else CLIENT_SUBJECT_PREFIX + client_id,
        ttl_seconds=request.expires_in,
        scopes=request.scopes or (),
        roles=[user.role] if user else [],
        legacy_user_id=user.legacy_user_id if user else None,
        client_id=client_id,
    )


class AuthServiceValidator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "roles": "profile", "legacy_user_id": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "roles": [user.role],
            "legacy_user_id": user.legacy_user_id,
        }

    def _authenticate_basic_auth(self, request):
        """A Basic credential that is not ASCII is no base64 (DOT's decode raises ValueError on it)."""
        auth_string = self._extract_basic_auth(request)
        if auth_string and not auth_string.isascii():
            return False
        return super()._authenticate_basic_auth(request)

    # PostgreSQL text cannot hold NUL, so no stored code has one; looked up, it would be a ValueError.
    def get_authorization_code_scopes(self, client_id, code, redirect_uri, request):
        if code and "\x00" in code:
            return []
        return super().get_authorization_code_scopes(client_id, code, redirect_uri, request)

    def validate_code(self, client_id, code, client, request, *args, **kwargs):
        if code and "\x00" in code:
            return False
        return super().validate_code(client_id, code, client, request, *args, **kwargs)

    def get_code_challenge(self, code, request):
        """oauthlib asks for the challenge, then refuses a verifier that does not match it with
        invalid_grant, leaving the code usable by the next try. Here a missing or wrong verifier deletes the
        code first (RFC 7636 4.6, RFC 9700 2.1.1): one failed verification and the code is gone."""
        challenge = super().get_code_challenge(code, request)
        verifier = request.code_verifier
        if challenge and (not verifier or not hmac.compare_digest(_s256(verifier), challenge)):
            request.failed_pkce_method = super().get_code_challenge_method(code, request)  # asked next
            self.invalidate_authorization_code(request.client_id, code, request)
            audit_record(
                event=Event.TOKEN_ISSUED,
                outcome="refused",
                reason="pkce_failed",
                client_id=getattr(request.client, "client_id", "") or "",
                data={"grant_type": "authorization_code"},
            )
        return challenge

    def get_code_challenge_method(self, code, request):
        failed = getattr(request, "failed_pkce_method", None)  # the code is gone already (see above)
        return failed if failed is not None else super().get_code_challenge_method(code, request)

    def save_authorization_code(self, client_id, code, request, *args, **kwargs):
        """The grant row keeps the PKCE challenge and the OIDC nonce: a challenge that is not RFC 7636's
        shape, or a nonce with a NUL (PostgreSQL text cannot hold one), is the client's invalid_request
        (an error redirect), not a failed INSERT."""
        challenge = request.code_challenge
        if challenge is not None and not CODE_CHALLENGE.fullmatch(challenge):
            raise InvalidRequestError(description="Malformed code_challenge (RFC 7636 4.2).", request=request)
        if "\x00" in (getattr(request, "nonce", None) or ""):
            raise InvalidRequestError(description="Malformed nonce.", request=request)
        super().save_authorization_code(client_id, code, request, *args, **kwargs)

    # oauthlib asks these for OIDC `prompt=none` (DOT leaves them unimplemented: NotImplementedError).
    def validate_silent_login(self, request):
        """/o/authorize is behind login (a caller without a session is sent to the login endpoint
        before oauthlib validates anything), so there is always a logged-in user here."""
        return True

    def validate_silent_authorization(self, request):
        """Only a client that never shows a consent screen (our first-party ones) is answered without
        one; for any other, `prompt=none` is consent_required."""
        return bool(getattr(request.client, "skip_authorization", False))

    def save_bearer_token(self, token, request, *args, **kwargs):
        super().save_bearer_token(token, request, *args, **kwargs)
        user = _user_of(request)
        refreshed = request.grant_type == "refresh_token"
        audit_record(
            event=Event.TOKEN_REFRESHED if refreshed else Event.TOKEN_ISSUED,
            username=user.username if user else "",
            user_id=user.pk if user else None,
            client_id=request.client.client_id,
            data={"grant_type": request.grant_type, "scope": token.get("scope", "")},
        )

    def validate_refresh_token(self, refresh_token, client, request, *args, **kwargs):
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if not valid:
            checksum = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()
            replayed = (
                get_refresh_token_model()
                .objects.filter(token_checksum=checksum, revoked__isnull=False)
                .select_related("user")
                .first()
            )
            if replayed is not None:  # a rotated-out (or revoked) token came back: its family is revoked
                audit_record(
                    event=Event.REFRESH_REUSED,
                    outcome="refused",
                    reason="refresh_token_reused",
                    username=replayed.user.username,
                    user_id=replayed.user_id,
                    client_id=client.client_id,
                    data={"token_family": str(replayed.token_family)},
                )
        return valid

    def revoke_token(self, token, token_type_hint, request, *args, **kwargs):
        super().revoke_token(token, token_type_hint, request, *args, **kwargs)
        audit_record(
            event=Event.TOKEN_REVOKED,
            client_id=getattr(request.client, "client_id", ""),
            data={"token_type_hint": token_type_hint or ""},
        )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
