"""/api/v1/accounts served here, the monolith's contract exactly (chassis.accounts_v1: bodies, user JSON,
error codes), for the routes routes.yaml moves: `accounts.register`, `accounts.profile` (me, password
change), `accounts.password_reset`, `accounts.admin` (users, roles). Every `id` is the public id
(legacy_user_id). Callers authenticate with a JWT access token or, in dual mode, a legacy credential
(legacy.py); roles are read from the user's row, so a role change counts from the next request, as on
the monolith."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.accounts_v1 import (
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    ProfileInput,
    RegisterInput,
    ResetAcceptedOutput,
    RoleInput,
    UserOutputBase,
    user_page_output,
)
from chassis.openapi import ERROR
from chassis.pagination import StandardPagination
from contracts.errors import ApplicationError
from contracts.tokens import bearer_token

from ..apis import client_ip, valid_input
from ..authentication import JwtAuthentication, TokenPrincipal
from ..models import Role, User
from . import passwords, selectors, services
from .legacy import LegacyCredentialAuthentication

NO_CONTENT = OpenApiResponse(description="No content")
PAGE = OpenApiParameter("page", int, description="Page number, from 1")
PAGE_SIZE = OpenApiParameter("page_size", int, description="Results per page (default 20, at most 100)")


class AccountUserOutput(UserOutputBase):
    """The monolith's user JSON (named apart from /api/v1/auth's own UserOutput in the schema)."""

    id = serializers.IntegerField(source="legacy_user_id")

    def permission_codes(self, user: User) -> list[str]:
        return selectors.user_permission_codes(user=user)


UserPageOutput = user_page_output(AccountUserOutput)


def caller(request) -> User:
    """The user making the request (a client-credentials token is nobody's: 403)."""
    principal = request.user
    if isinstance(principal, User):
        return principal
    if isinstance(principal, TokenPrincipal) and principal.user_id is not None:
        user = User.objects.filter(pk=principal.user_id, is_active=True).first()
        if user is not None:
            return user
        raise ApplicationError("authentication_failed", "User inactive or deleted.", status=401)
    raise ApplicationError("user_token_required", "This needs a user's token, not a client's", status=403)


def _bearer(request) -> str | None:
    return bearer_token(request.headers.get("Authorization", ""))


class HasRole(BasePermission):
    roles: tuple[str, ...] = ()
    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and caller(request).role in self.roles)


class IsStaffRole(HasRole):
    roles = (Role.STAFF, Role.ADMIN)


class IsAdminRole(HasRole):
    roles = (Role.ADMIN,)
    message = "Admin role required"


class AccountsApi(APIView):
    authentication_classes = [JwtAuthentication, LegacyCredentialAuthentication]
    permission_classes = [IsAuthenticated]


class PublicApi(APIView):
    """For anonymous callers: no authentication runs, so a stale credential cannot get in the way."""

    authentication_classes: list = []


class RegisterApi(PublicApi):
    @extend_schema(request=RegisterInput, responses={201: AccountUserOutput, 400: ERROR, 409: ERROR})
    def post(self, request):
        user = services.user_register(**valid_input(RegisterInput, request))
        return Response(AccountUserOutput(user).data, status=status.HTTP_201_CREATED)


class MeApi(AccountsApi):
    @extend_schema(responses={200: AccountUserOutput, 401: ERROR})
    def get(self, request):
        return Response(AccountUserOutput(caller(request)).data)

    @extend_schema(request=ProfileInput, responses={200: AccountUserOutput, 400: ERROR, 409: ERROR})
    def patch(self, request):
        data = dict(valid_input(ProfileInput, request))
        return Response(AccountUserOutput(services.user_update_profile(user=caller(request), data=data)).data)


class PasswordChangeApi(AccountsApi):
    @extend_schema(request=PasswordChangeInput, responses={204: NO_CONTENT, 400: ERROR})
    def post(self, request):
        data = valid_input(PasswordChangeInput, request)
        passwords.user_change_password(
            user=caller(request), access_token=_bearer(request), ip=client_ip(request), **data
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicApi):
    @extend_schema(request=PasswordResetInput, responses={202: ResetAcceptedOutput, 400: ERROR})
    def post(self, request):
        passwords.password_reset_request(**valid_input(PasswordResetInput, request))
        return Response(ResetAcceptedOutput({"status": "accepted"}).data, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    @extend_schema(request=PasswordResetConfirmInput, responses={204: NO_CONTENT, 400: ERROR})
    def post(self, request):
        data = valid_input(PasswordResetConfirmInput, request)
        passwords.password_reset_confirm(**data, ip=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserListApi(AccountsApi):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: UserPageOutput, 403: ERROR}, parameters=[PAGE, PAGE_SIZE])
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.user_list(), request, view=self)
        return paginator.get_paginated_response(AccountUserOutput(page, many=True).data)


class UserRoleApi(AccountsApi):
    permission_classes = [IsAdminRole]

    @extend_schema(request=RoleInput, responses={200: AccountUserOutput, 403: ERROR, 404: ERROR, 409: ERROR})
    def patch(self, request, user_id: int):
        data = valid_input(RoleInput, request)
        user = services.user_set_role(actor=caller(request), user=selectors.user_get(user_id=user_id), **data)
        return Response(AccountUserOutput(user).data)
