"""Routes: the chassis (health, metrics), django-oauth-toolkit's endpoints (no trailing slashes, like
every TechStore path), OIDC discovery and the JWKS at the root, /api/v1/auth/ and the OpenAPI schema
(DOT's endpoints are described by the discovery document, not by it)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from oauth2_provider import views as oauth_views

from chassis.urls import chassis_urlpatterns

from . import apis, internal, oidc_discovery
from .accounts import apis as accounts

# Named as in django-oauth-toolkit's own urls (namespace oauth2_provider), so its discovery document
# points at these paths and at our JWKS.
oauth_patterns = [
    path("o/authorize", oauth_views.AuthorizationView.as_view(), name="authorize"),
    path("o/token", oauth_views.TokenView.as_view(), name="token"),
    path("o/revoke", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("o/userinfo", oauth_views.UserInfoView.as_view(), name="user-info"),
    path(
        ".well-known/openid-configuration",
        oidc_discovery.TruthfulDiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
    path(".well-known/jwks.json", apis.JwksApi.as_view(), name="jwks-info"),
]

api_patterns = [
    path("login", apis.LoginApi.as_view(), name="auth-login"),
    path("logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("me", apis.MeApi.as_view(), name="auth-me"),
    path("token/exchange", apis.TokenExchangeApi.as_view(), name="auth-token-exchange"),
    path("password/change", apis.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("users/<int:user_id>/unlock", apis.AccountUnlockApi.as_view(), name="auth-account-unlock"),
]

# The monolith's /api/v1/accounts paths this service answers once routes.yaml's `accounts.*` routes move
# them (login and tokens: `auth.login`, below).
accounts_patterns = [
    path("register", accounts.RegisterApi.as_view(), name="accounts-register"),
    path("me", accounts.MeApi.as_view(), name="accounts-me"),
    path("password/change", accounts.PasswordChangeApi.as_view(), name="accounts-password-change"),
    path("password/reset", accounts.PasswordResetApi.as_view(), name="accounts-password-reset"),
    path("password/reset/confirm", accounts.PasswordResetConfirmApi.as_view(), name="accounts-reset-confirm"),
    path("users", accounts.UserListApi.as_view(), name="accounts-users"),
    path("users/<int:user_id>/role", accounts.UserRoleApi.as_view(), name="accounts-user-role"),
]

urlpatterns = [
    *chassis_urlpatterns(),
    path("", include((oauth_patterns, "oauth2_provider"))),
    path("api/v1/auth/", include(api_patterns)),
    path("api/v1/accounts/", include(accounts_patterns)),
    # the monolith's login paths, answered here once routes.yaml's `auth.login` moves them (cutover)
    re_path(
        r"^api/v1/accounts/(?P<kind>login|tokens)$", apis.AccountsLoginApi.as_view(), name="accounts-login"
    ),
    # `sync users` (bearer INTERNAL_API_TOKEN)
    path("internal/v1/import/users", internal.UserImportApi.as_view(), name="internal-import-users"),
    path("internal/v1/export/users", internal.UserExportApi.as_view(), name="internal-export-users"),
    path(
        "internal/v1/verify/checksums", internal.UserChecksumsApi.as_view(), name="internal-verify-checksums"
    ),
    path("internal/v1/verify/digests", internal.UserDigestsApi.as_view(), name="internal-verify-digests"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]

handler400 = "chassis.errors.bad_request"
handler403 = "chassis.errors.permission_denied"
handler404 = "chassis.errors.not_found"
handler500 = "chassis.errors.server_error"
