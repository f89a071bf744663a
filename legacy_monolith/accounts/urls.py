"""Routes under /api/v1/accounts/ (no trailing slashes)."""

from django.urls import path

from . import apis

urlpatterns = [
    path("register", apis.RegisterApi.as_view(), name="accounts-register"),
    path("login", apis.LoginApi.as_view(), name="accounts-login"),
    path("logout", apis.LogoutApi.as_view(), name="accounts-logout"),
    path("tokens", apis.TokenCreateApi.as_view(), name="accounts-tokens"),
    path("tokens/current", apis.TokenCurrentApi.as_view(), name="accounts-token-current"),
    path("me", apis.MeApi.as_view(), name="accounts-me"),
    path("password/change", apis.PasswordChangeApi.as_view(), name="accounts-password-change"),
    path("password/reset", apis.PasswordResetApi.as_view(), name="accounts-password-reset"),
    path("password/reset/confirm", apis.PasswordResetConfirmApi.as_view(), name="accounts-reset-confirm"),
    path("users", apis.UserListApi.as_view(), name="accounts-users"),
    path("users/<int:user_id>/role", apis.UserRoleApi.as_view(), name="accounts-user-role"),
]
