"""Auth service HTTP API: first-party password login (feeds /o/authorize), the caller's identity,
password change, account unlock (RBAC + the ABAC policy), and the JWKS."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from oauth2_provider.views import JwksInfoView
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR
from chassis.serializers import StringField
from contracts.errors import ApplicationError
from contracts.policies import Subject

from . import exchange, keys, services
from .authentication import TokenPrincipal
from .models import Role
from .rbac import require_roles

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
AUTHORIZE_PATH = "/o/authorize"


class CredentialsInput(serializers.Serializer):
    username = StringField(max_length=254)
    password = StringField(max_length=4096, trim_whitespace=False)
    next = StringField(max_length=4096, required=False, allow_blank=True)


class AuthPasswordChangeInput(serializers.Serializer):
    current_password = StringField(max_length=4096, trim_whitespace=False)
    new_password = StringField(max_length=4096, trim_whitespace=False)


_LEGACY_CREDENTIAL = RegexValidator(exchange.LEGACY_CREDENTIAL_PATTERN, "Not a legacy credential")


class ExchangeInput(serializers.Serializer):
    client_id = StringField(max_length=100)
    legacy_token = StringField(max_length=256, required=False, validators=[_LEGACY_CREDENTIAL])
    legacy_session = StringField(max_length=256, required=False, validators=[_LEGACY_CREDENTIAL])
    scope = StringField(max_length=500, required=False)

    def validate(self, attrs):
        if attrs.get("legacy_token") and attrs.get("legacy_session"):
            raise serializers.ValidationError("Give one of legacy_token and legacy_session, not both")
        return attrs


class UserOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    role = serializers.CharField()
    legacy_user_id = serializers.IntegerField(allow_null=True)


LOGIN_OUTPUT = inline_serializer(
    name="AuthLogin", fields={"user": UserOutput(), "next": serializers.CharField(allow_blank=True)}
)
ME_OUTPUT = inline_serializer(
    name="AuthMe",
    fields={
        "sub": serializers.CharField(),
        "roles": serializers.ListField(child=serializers.CharField()),
        "scopes": serializers.ListField(child=serializers.CharField()),
        "legacy_user_id": serializers.IntegerField(allow_null=True),
        "client_id": serializers.CharField(allow_null=True),
    },
)
TOKEN_PAIR = inline_serializer(
    name="TokenPair",
    fields={
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "refresh_token": serializers.CharField(),
        "scope": serializers.CharField(),
    },
)
NO_CONTENT = OpenApiResponse(description="No content")


def valid_input(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")[:45]


def _safe_next(request, target: str) -> str:
    """Only a relative continuation of the authorization flow on this host is followed."""
    if target.startswith(AUTHORIZE_PATH) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=False
    ):
        return target
    return ""


class LoginApi(APIView):
    """POST credentials: a session on this service (cookie `auth_sessionid`) that /o/authorize uses to
    issue the authorization code. A GET here is where /o/authorize sends a caller without a session."""

    authentication_classes: list = []

    @extend_schema(
        parameters=[OpenApiParameter("next", str, description="where /o/authorize continues")],
        responses={401: ERROR},
    )
    def get(self, request):
        raise ApplicationError(
            "login_required",
            "POST username and password here, then follow `next`",
            extra={"next": _safe_next(request, request.query_params.get("next", ""))},
            status=401,
        )

    @extend_schema(request=CredentialsInput, responses={200: LOGIN_OUTPUT, 401: ERROR, 423: ERROR})
    def post(self, request):
        data = valid_input(CredentialsInput, request)
        user = services.user_authenticate(
            username=data["username"], password=data["password"], ip=client_ip(request)
        )
        login(request, user, backend=MODEL_BACKEND)  # a new session key: no fixation
        return Response({"user": UserOutput(user).data, "next": _safe_next(request, data.get("next", ""))})


class LogoutApi(APIView):
    authentication_classes: list = []

    @extend_schema(request=None, responses={204: NO_CONTENT})
    def post(self, request):
        logout(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenExchangeApi(APIView):
    """A valid legacy token or session (checked by the monolith) -> an access + refresh token pair.

    A browser cannot read its HttpOnly legacy session cookie: without a credential in the body, the
    monolith's `sessionid` cookie the browser sent (same host behind the gateway) is the credential.
    Only JSON bodies are parsed, so a cross-site form cannot make the call, and without CORS a cross-site
    script cannot read the answer."""

    authentication_classes: list = []

    @extend_schema(request=ExchangeInput, responses={200: TOKEN_PAIR, 401: ERROR, 503: ERROR})
    def post(self, request):
        data = valid_input(ExchangeInput, request)
        legacy_token = data.get("legacy_token", "")
        legacy_session = data.get("legacy_session", "")
        if not (legacy_token or legacy_session):
            legacy_session = request.COOKIES.get(exchange.LEGACY_SESSION_COOKIE, "")
        if not (legacy_token or legacy_session):
            raise ApplicationError(
                "legacy_credential_required",
                "Give legacy_token or legacy_session, or send the legacy session cookie",
                status=400,
            )
        token = exchange.token_exchange(
            client_id=data["client_id"],
            legacy_token=legacy_token,
            legacy_session=legacy_session,
            scope=data.get("scope") or settings.AUTH_EXCHANGE_DEFAULT_SCOPE,
            ip=client_ip(request),
        )
        return Response(token, headers={"Cache-Control": "no-store"})


class AccountsCredentialsInput(serializers.Serializer):
    username = StringField(max_length=254)
    password = StringField(max_length=4096, trim_whitespace=False)
    name = StringField(max_length=64, required=False)  # the legacy token's label (tokens only)


ACCOUNTS_LOGIN_OUTPUT = inline_serializer(
    name="AccountsLogin",
    fields={
        "user": UserOutput(),
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_in": serializers.IntegerField(),
        "refresh_token": serializers.CharField(),
        "scope": serializers.CharField(),
    },
)


def _legacy_user(user) -> dict:
    """The user as the monolith's clients know it: `id` is the monolith's id (legacy_user_id)."""
    data = UserOutput(user).data
    if user.legacy_user_id is not None:
        data["id"] = user.legacy_user_id
    return data


class AccountsLoginApi(APIView):
    """The monolith's login paths answered by this service once `route.auth.login` moves them here:
    POST /api/v1/accounts/login and /api/v1/accounts/tokens take the same body as on the monolith
    (username or email, password; `name` for tokens) and check it here (lockout, audit, PBKDF2 -> Argon2id
    upgrade), but answer a JWT pair of the first-party client AUTH_LOGIN_CLIENT_ID instead of a session
    (login: 200 `{user, access_token, token_type, expires_in, refresh_token, scope}`) or an opaque token
    (tokens: 201 `{token, token_type, expires_at, expires_in, name, prefix, refresh_token}`, `token` being
    the access JWT). Contract change for clients: send `Authorization: Bearer <access_token>` and refresh
    at POST /o/token (grant_type=refresh_token); `user.id` stays the monolith's id."""

    authentication_classes: list = []

    @extend_schema(
        request=AccountsCredentialsInput, responses={200: ACCOUNTS_LOGIN_OUTPUT, 401: ERROR, 423: ERROR}
    )
    def post(self, request, kind: str):
        data = valid_input(AccountsCredentialsInput, request)
        application = exchange.first_party_application(settings.AUTH_LOGIN_CLIENT_ID)
        scopes = exchange.scopes_checked(settings.AUTH_EXCHANGE_DEFAULT_SCOPE)
        user = services.user_authenticate(
            username=data["username"], password=data["password"], ip=client_ip(request)
        )
        pair = exchange.token_pair_issue(user=user, application=application, scopes=scopes)
        headers = {"Cache-Control": "no-store"}
        if kind == "login":
            return Response({"user": _legacy_user(user), **pair}, headers=headers)
        expires_at = timezone.now() + timedelta(seconds=int(pair["expires_in"]))
        body = {
            "token": pair["access_token"],
            "token_type": pair["token_type"],
            "expires_at": serializers.DateTimeField().to_representation(expires_at),
            "expires_in": pair["expires_in"],
            "name": data.get("name") or "default",
            "prefix": pair["access_token"][:8],
            "refresh_token": pair["refresh_token"],
        }
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


def _principal(request) -> TokenPrincipal:
    return request.user


class MeApi(APIView):
    """Who the bearer token speaks for, read from the token alone (verified locally)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: ME_OUTPUT, 401: ERROR})
    def get(self, request):
        principal = _principal(request)
        return Response(
            {
                "sub": principal.subject,
                "roles": list(principal.roles),
                "scopes": list(principal.scopes),
                "legacy_user_id": principal.legacy_user_id,
                "client_id": principal.client_id,
            }
        )


def _token_user(request):
    user_id = _principal(request).user_id
    if user_id is None:
        raise ApplicationError("user_token_required", "This needs a user's token, not a client's", status=403)
    return services.user_get(user_id=user_id)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=AuthPasswordChangeInput, responses={204: NO_CONTENT, 400: ERROR})
    def post(self, request):
        data = valid_input(AuthPasswordChangeInput, request)
        services.user_change_password(user=_token_user(request), ip=client_ip(request), **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AccountUnlockApi(APIView):
    """RBAC lets staff and admins in; the account.unlock policy then decides for this account."""

    permission_classes = [IsAuthenticated, require_roles(Role.STAFF, Role.ADMIN)]

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer(name="Unlock", fields={"unlocked": serializers.BooleanField()}),
            403: ERROR,
        },
    )
    def post(self, request, user_id: int):
        principal = _principal(request)
        actor = Subject(principal.subject, principal.roles)
        was_locked = services.account_unlock(
            actor=actor, user=services.user_get(user_id=user_id), ip=client_ip(request)
        )
        return Response({"unlocked": was_locked})


class JwksApi(JwksInfoView):
    """Every key that verifies: our ES256 access-token keys first, then the RS256 key of OIDC id_tokens
    (django-oauth-toolkit's own JWKS document, which this replaces under the same URL name)."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        document = json.loads(response.content)
        document["keys"] = [*keys.jwks()["keys"], *document["keys"]]
        response.content = json.dumps(document)
        return response
