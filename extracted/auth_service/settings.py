"""Settings for the Auth service (`python -m extracted.auth_service ...`), on the chassis helper.

The environment is read here once (chassis.settings reads the shared variables). Defaults give
the embedded profile: SQLite under var/, a development key encryption key and a development OIDC RSA key
file under var/, both refused when DEBUG is off.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chassis.settings import env_bool, env_int, service_settings
from contracts.addresses import auth_issuer, url_of
from kernel.audit import AuditConfigError, AuditKey
from kernel.crypto import KeyMaterialError, parse_encryption_key

globals().update(
    service_settings(
        "auth_service",
        database_env="AUTH_DATABASE_URL",
        root_urlconf="extracted.auth_service.urls",
        default_port=8102,
        with_auth=True,
        apps=["django.contrib.sessions", "drf_spectacular", "oauth2_provider", "extracted.auth_service"],
    )
)
_env = os.environ

AUTH_USER_MODEL = "auth_service.User"
MIDDLEWARE = [
    *MIDDLEWARE,  # noqa: F821 (from service_settings)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
# The gateway serves the monolith and this service on one host: a distinct cookie name keeps the two
# sessions apart. The session only carries a login into the authorization-code flow.
SESSION_COOKIE_NAME = "auth_sessionid"
SESSION_COOKIE_AGE = env_int(_env, "AUTH_SESSION_COOKIE_AGE", 15 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG  # noqa: F821
LOGIN_URL = "/api/v1/auth/login"  # where /o/authorize/ sends a caller without a session (?next=...)
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Argon2id for every new hash; PBKDF2 kept so users synced from the monolith log in with their hash, which
# Django re-hashes with Argon2id at that user's first successful login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- tokens ---
AUTH_ISSUER = auth_issuer(_env)  # AUTH_ISSUER, else the service's own address (AUTH_SERVICE_URL / _PORT)
AUTH_AUDIENCE = _env.get("AUTH_AUDIENCE", "techstore")
AUTH_ACCESS_TOKEN_TTL_SECONDS = env_int(_env, "AUTH_ACCESS_TOKEN_TTL_SECONDS", 15 * 60)
AUTH_REFRESH_TOKEN_TTL_SECONDS = env_int(_env, "AUTH_REFRESH_TOKEN_TTL_SECONDS", 14 * 24 * 60 * 60)
AUTH_ID_TOKEN_TTL_SECONDS = env_int(_env, "AUTH_ID_TOKEN_TTL_SECONDS", 15 * 60)
AUTH_AUTHORIZATION_CODE_TTL_SECONDS = env_int(_env, "AUTH_AUTHORIZATION_CODE_TTL_SECONDS", 60)
# How long a rotated-out signing key keeps verifying: by default the access token lifetime.
AUTH_KEY_ROTATION_OVERLAP_SECONDS = env_int(
    _env, "AUTH_KEY_ROTATION_OVERLAP_SECONDS", AUTH_ACCESS_TOKEN_TTL_SECONDS
)

# How long resource servers may cache the JWKS (Cache-Control max-age); on an unknown kid they refetch.
AUTH_JWKS_MAX_AGE_SECONDS = env_int(_env, "AUTH_JWKS_MAX_AGE_SECONDS", 300)

# AES-256-GCM key sealing the ES256 private keys in the auth database (32 bytes, base64url).
DEV_KEY_ENCRYPTION_KEY = (
    "ZGV2LW9ubHktYXV0aC1rZXktZW5jcnlwdGlvbi1rZXk"  # DEV-ONLY (b64 "dev-only-auth-key-encryption-key")
)
AUTH_KEY_ENCRYPTION_KEY = _env.get("AUTH_KEY_ENCRYPTION_KEY", DEV_KEY_ENCRYPTION_KEY)
try:
    parse_encryption_key(AUTH_KEY_ENCRYPTION_KEY)
except KeyMaterialError as exc:
    raise ImproperlyConfigured(f"AUTH_KEY_ENCRYPTION_KEY: {exc}") from None

# OIDC id_tokens: django-oauth-toolkit signs them RS256 (its only asymmetric choice) with this PEM key.
# Development: a key generated once into var/ (DEV-ONLY).
AUTH_OIDC_RSA_PRIVATE_KEY = _env.get("AUTH_OIDC_RSA_PRIVATE_KEY", "")
_oidc_key_is_dev = not AUTH_OIDC_RSA_PRIVATE_KEY
if _oidc_key_is_dev:
    from extracted.auth_service.oidc_key import dev_rsa_key_pem

    AUTH_OIDC_RSA_PRIVATE_KEY = dev_rsa_key_pem(Path(VAR_DIR) / "auth_service-oidc-rsa.pem")  # noqa: F821

# --- token exchange: the monolith judges its own legacy tokens and sessions (GET /api/v1/accounts/me) ---
MONOLITH_URL = url_of("MONOLITH", _env)
AUTH_LEGACY_TIMEOUT_SECONDS = float(_env.get("AUTH_LEGACY_TIMEOUT_SECONDS", "5"))
AUTH_EXCHANGE_DEFAULT_SCOPE = _env.get("AUTH_EXCHANGE_DEFAULT_SCOPE", "read write")
# The first-party client whose token pairs POST /api/v1/accounts/login|tokens (the cutover's login) mints.
AUTH_LOGIN_CLIENT_ID = _env.get("AUTH_LOGIN_CLIENT_ID", "web")

# --- accounts (registration, profile, password reset, roles; moved from the monolith) ---
# Public ids of users registered here: this offset + the row id. A block the monolith's own ids never
# reach, so such a user keeps one id on both sides (contracts/user.py).
AUTH_USER_ID_OFFSET = env_int(_env, "AUTH_USER_ID_OFFSET", 10**12)
PASSWORD_RESET_TTL_SECONDS = env_int(_env, "PASSWORD_RESET_TTL_SECONDS", 60 * 60)
EMAIL_BACKEND = _env.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(Path(VAR_DIR) / "mail" / "auth_service")  # noqa: F821
DEFAULT_FROM_EMAIL = _env.get("DEFAULT_FROM_EMAIL", "TechStore <no-reply@techstore.example>")
# With the flag monolith.accounts.emails_via_service on, the reset goes to the Notification service as
# `account.password_reset_requested` with reset_url = PASSWORD_RESET_URL?token=<key> (as the monolith's).
PASSWORD_RESET_URL = _env.get("PASSWORD_RESET_URL", "https://techstore.example/account/reset-password")
ACCOUNT_EMAIL_LOCALE = _env.get("ACCOUNT_EMAIL_LOCALE", "")
if ACCOUNT_EMAIL_LOCALE not in ("", "pt-BR", "en"):
    raise ImproperlyConfigured(f"ACCOUNT_EMAIL_LOCALE is '', 'pt-BR' or 'en', not {ACCOUNT_EMAIL_LOCALE!r}")
# Dual mode: accounts requests carrying the monolith's token or session are checked at the monolith
# (accounts/legacy.py). `false` once `legacy_sessions report` shows none left.
AUTH_LEGACY_CREDENTIALS = env_bool(_env, "AUTH_LEGACY_CREDENTIALS", True)

# --- lockout (chassis/lockout.py): the monolith reads the same names, both count into one store ---
AUTH_LOCKOUT_THRESHOLD = env_int(_env, "AUTH_LOCKOUT_THRESHOLD", 5)
AUTH_LOCKOUT_WINDOW_SECONDS = env_int(_env, "AUTH_LOCKOUT_WINDOW_SECONDS", 15 * 60)
AUTH_LOCKOUT_SECONDS = env_int(_env, "AUTH_LOCKOUT_SECONDS", 15 * 60)
AUTH_LOCKOUT_REDIS_URL = _env.get("AUTH_LOCKOUT_REDIS_URL") or _env.get("REDIS_URL", "")  # the shared counter
AUTH_LOCKOUT_KEY_PREFIX = _env.get("AUTH_LOCKOUT_KEY_PREFIX", "strangler:lockout:")  # Redis keys
AUTH_LOCKOUT_FILE = _env.get("AUTH_LOCKOUT_FILE", "")  # without Redis; default VAR_DIR/lockout.sqlite3

# --- audit log (extracted/auth_service/audit.py): HMAC-SHA256 chain, signed checkpoints ---
DEV_AUTH_AUDIT_KEY = "dev-only-auth-audit-key-not-for-production"  # DEV-ONLY
AUTH_AUDIT_KEY = _env.get("AUTH_AUDIT_KEY", DEV_AUTH_AUDIT_KEY)
# `table` (auth_service_audit_checkpoint), a file path, or a redis:// URL (another store than the log's).
AUTH_AUDIT_CHECKPOINTS = _env.get("AUTH_AUDIT_CHECKPOINTS", "table")
AUTH_AUDIT_CHECKPOINT_SECONDS = float(_env.get("AUTH_AUDIT_CHECKPOINT_SECONDS", "10"))
try:
    AuditKey(AUTH_AUDIT_KEY)
except AuditConfigError as exc:
    raise ImproperlyConfigured(f"AUTH_AUDIT_KEY: {exc}") from None

if not DEBUG:  # noqa: F821
    insecure = [
        name
        for name, dev in (
            ("AUTH_KEY_ENCRYPTION_KEY", AUTH_KEY_ENCRYPTION_KEY == DEV_KEY_ENCRYPTION_KEY),
            ("AUTH_OIDC_RSA_PRIVATE_KEY", _oidc_key_is_dev),
            ("AUTH_AUDIT_KEY", AUTH_AUDIT_KEY == DEV_AUTH_AUDIT_KEY),
        )
        if dev
    ]
    if insecure:
        raise ImproperlyConfigured(f"DEBUG is off but {', '.join(insecure)} still hold development defaults")

OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "extracted.auth_service.oauth.AuthServiceValidator",
    # Access tokens are our ES256 JWTs, verified locally from the JWKS; refresh tokens stay opaque.
    "ACCESS_TOKEN_GENERATOR": "extracted.auth_service.oauth.access_token_generator",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": AUTH_ACCESS_TOKEN_TTL_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": AUTH_REFRESH_TOKEN_TTL_SECONDS,
    "ID_TOKEN_EXPIRE_SECONDS": AUTH_ID_TOKEN_TTL_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": AUTH_AUTHORIZATION_CODE_TTL_SECONDS,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a replayed refresh token revokes its whole family
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,  # S256 only
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # only SHA-256 checksums of tokens at rest
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": AUTH_OIDC_RSA_PRIVATE_KEY,
    "OIDC_ISS_ENDPOINT": AUTH_ISSUER,
    "OIDC_JWKS_MAX_AGE_SECONDS": AUTH_JWKS_MAX_AGE_SECONDS,
    "SCOPES": {
        "openid": "OpenID Connect sign-in",
        "profile": "Username, roles and legacy user id",
        "email": "Email address",
        "read": "Read access",
        "write": "Write access",
    },
    "DEFAULT_SCOPES": ["read"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https", "techstore"],  # techstore:// = the mobile app
}

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": ["extracted.auth_service.authentication.JwtAuthentication"],
    "EXCEPTION_HANDLER": "extracted.auth_service.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TechStore Auth service API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chassis.openapi.standard_error_responses",  # every operation documents the standard errors
    ],
}
