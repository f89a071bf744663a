"""Accounts HTTP API (/api/v1/accounts): parse with an input serializer, call one service or selector,
render with an output serializer."""

from django.middleware.csrf import get_token
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR, PAGE_PARAMETERS
from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.core.pagination import StandardPagination

from . import selectors, services
from .models import ApiToken
from .permissions import IsAdminRole, IsStaffRole
from .serializers import (
    CredentialsInput,
    LoginOutput,
    PasswordChangeInput,
    PasswordResetConfirmInput,
    PasswordResetInput,
    ProfileInput,
    RegisterInput,
    ResetAcceptedOutput,
    RoleInput,
    TokenCreateInput,
    TokenOutput,
    UserOutput,
    UserPageOutput,
)

NO_CONTENT = OpenApiResponse(description="No content")


def _valid(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PublicApi(APIView):
    """Endpoints for anonymous callers: no authentication runs, so a stale cookie or token cannot
    get in the way of registering, logging in or resetting a password."""

    authentication_classes: list = []


class RegisterApi(PublicApi):
    @extend_schema(request=RegisterInput, responses={201: UserOutput, 409: ERROR})  # user_exists
    def post(self, request):
        user = services.user_register(**_valid(RegisterInput, request))
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


@method_decorator(ensure_csrf_cookie, name="dispatch")
class LoginApi(PublicApi):
    """Session login. Answers the CSRF token (and sets the csrftoken cookie) the browser must echo in
    X-CSRFToken on later unsafe requests made with this session."""

    # 423 account_locked: the failed-login lockout shared with the Auth service (chassis/lockout.py)
    @extend_schema(request=CredentialsInput, responses={200: LoginOutput, 423: ERROR})
    def post(self, request):
        user = services.user_login(request=request, **_valid(CredentialsInput, request))
        return Response(LoginOutput({"user": user, "csrf_token": get_token(request)}).data)


class LogoutApi(APIView):
    """Runs session authentication, so a session logout needs its CSRF token (no cross-site logout)."""

    @extend_schema(request=None, responses={204: NO_CONTENT})
    def post(self, request):
        services.user_logout(request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenCreateApi(PublicApi):
    @extend_schema(request=TokenCreateInput, responses={201: TokenOutput, 423: ERROR})
    def post(self, request):
        issued = services.api_token_login(**_valid(TokenCreateInput, request))
        return Response(TokenOutput(issued).data, status=status.HTTP_201_CREATED)


class TokenCurrentApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={204: NO_CONTENT})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            raise ApplicationError(
                "token_required", "This request is not authenticated with an API token", status=400
            )
        services.api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: UserOutput})
    def get(self, request):
        # with its permissions prefetched: the services ask /me for every credential they have not cached,
        # and the permission codes of request.user cost a query per permission (its content type)
        return Response(UserOutput(selectors.user_get(user_id=request.user.id)).data)

    @extend_schema(request=ProfileInput, responses={200: UserOutput})
    def patch(self, request):
        user = services.user_update_profile(user=request.user, data=dict(_valid(ProfileInput, request)))
        return Response(UserOutput(user).data)


class PasswordChangeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=PasswordChangeInput, responses={204: NO_CONTENT})
    def post(self, request):
        data = _valid(PasswordChangeInput, request)
        token = request.auth if isinstance(request.auth, ApiToken) else None
        services.user_change_password(user=request.user, request=request, current_token=token, **data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetApi(PublicApi):
    @extend_schema(request=PasswordResetInput, responses={202: ResetAcceptedOutput})
    def post(self, request):
        services.password_reset_request(**_valid(PasswordResetInput, request))
        return Response(ResetAcceptedOutput({"status": "accepted"}).data, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(PublicApi):
    @extend_schema(request=PasswordResetConfirmInput, responses={204: NO_CONTENT})
    def post(self, request):
        services.password_reset_confirm(**_valid(PasswordResetConfirmInput, request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserListApi(APIView):
    permission_classes = [IsStaffRole]

    @extend_schema(responses={200: UserPageOutput}, parameters=PAGE_PARAMETERS)
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(selectors.user_list(), request, view=self)
        return paginator.get_paginated_response(UserOutput(page, many=True).data)


class UserRoleApi(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(request=RoleInput, responses={200: UserOutput})
    def patch(self, request, user_id: int):
        data = _valid(RoleInput, request)
        user = services.user_set_role(actor=request.user, user=selectors.user_get(user_id=user_id), **data)
        return Response(UserOutput(user).data)
