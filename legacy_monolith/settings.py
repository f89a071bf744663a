"""Settings for the TechStore monolith.

The environment is read here once. Defaults give the embedded profile (SQLite under var/); the services
profile sets DATABASE_URL and friends. Development defaults marked DEV-ONLY are refused when DEBUG is off.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from chassis.forwarded import DEFAULT_TRUSTED_PROXIES
from chassis.settings import (
    DEV_INTERNAL_API_TOKEN,
    database_config,
    event_signing_settings,
    internal_tls_from_env,
)

# DEV-ONLY defaults shared with the services and the gateway (one definition each; refused when DEBUG is off).
from contracts.addresses import url_of
from contracts.identity import DEV_INTERNAL_IDENTITY_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STRANGLER_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # DEV-ONLY
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"  # DEV-ONLY

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]
# The identity header's replay guard (chassis/identity.py) shares Redis with every verifier when set.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Peers whose X-Forwarded-For/-Host/-Proto are believed (the gateway): see chassis/forwarded.py.
TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES") or DEFAULT_TRUSTED_PROXIES

if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {  # chassis.database_config: SQLite in WAL mode with a busy timeout; a bad URL refused by name
    "default": database_config(
        "DATABASE_URL",
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'monolith.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "drf_spectacular",
    "legacy_monolith.core",
    "legacy_monolith.accounts",
    "legacy_monolith.catalog",
    "legacy_monolith.orders",
    "legacy_monolith.payments",
    "flags",  # the `flags` management command (flags/ itself needs no Django)
    "strangler_proxy",  # the `gateway` management command (the gateway itself needs no Django)
    "migrations_data",  # `manage.py sync ...`: backfill, outbox follow, verify, receive
    # processed-event ids of the consumers `sync <entity> receive` runs (the services' events); not the
    # chassis's commands (serve, consume, ...: a service's, see chassis/apps.py)
    "chassis.apps.ChassisModelsConfig",
    "shadow",  # the shadow comparator: its results live in the `shadow` database, `manage.py shadow ...`
    "control",  # guarded rollouts, evidence gates, traffic replay: its own `control` database
]

MIDDLEWARE = [
    "chassis.errors.JsonErrorsMiddleware",  # outermost: JSON 404/405/500 bodies whatever DEBUG is
    # http_requests_total by URLconf entry: what still reaches the monolith (decommission status)
    "chassis.metrics.MetricsMiddleware",
    "chassis.forwarded.ForwardedHeadersMiddleware",  # first: the client's address, host and scheme
    "legacy_monolith.core.middleware.HeadResponseMiddleware",
    "legacy_monolith.core.middleware.RequestIdMiddleware",
    "chassis.ports.InternalPortMiddleware",  # INTERNAL_PORT: /internal/ and /metrics only on that port
    "migrations_data.outbox.trace.OutboxTraceMiddleware",  # catalog events continue the writer's trace
    "legacy_monolith.core.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # 410 Gone on the URLconf entries a decommission retired (control database; control/decommission)
    "legacy_monolith.core.middleware.RetiredEndpointsMiddleware",
]

ROOT_URLCONF = "legacy_monolith.urls"
WSGI_APPLICATION = "legacy_monolith.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
APPEND_SLASH = False
STATIC_URL = "static/"  # the API serves no static files; Django's test live_server needs the setting

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

# Passwords stay Django's default PBKDF2 here; the Auth service upgrades them later.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
if env_bool("FAST_PASSWORD_HASHER", False):  # test speed only; never in a deployment
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 2 * 60 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # sliding expiry: idle sessions end after SESSION_COOKIE_AGE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)

# Failed-login lockout (chassis/lockout.py): the Auth service's names and defaults, one shared counter.
AUTH_LOCKOUT_THRESHOLD = env_int("AUTH_LOCKOUT_THRESHOLD", 5)
AUTH_LOCKOUT_WINDOW_SECONDS = env_int("AUTH_LOCKOUT_WINDOW_SECONDS", 15 * 60)
AUTH_LOCKOUT_SECONDS = env_int("AUTH_LOCKOUT_SECONDS", 15 * 60)
AUTH_LOCKOUT_REDIS_URL = os.environ.get("AUTH_LOCKOUT_REDIS_URL") or REDIS_URL  # the shared counter
# the identity header's replay guard, shared with every service that verifies it (chassis.identity)
IDENTITY_REPLAY_REDIS_URL = os.environ.get("IDENTITY_REPLAY_REDIS_URL") or REDIS_URL
AUTH_LOCKOUT_KEY_PREFIX = os.environ.get("AUTH_LOCKOUT_KEY_PREFIX", "strangler:lockout:")  # Redis keys
AUTH_LOCKOUT_FILE = os.environ.get("AUTH_LOCKOUT_FILE", "")  # without Redis; default VAR_DIR/lockout.sqlite3
LEGACY_TOKEN_TTL_SECONDS = env_int("LEGACY_TOKEN_TTL_SECONDS", 30 * 24 * 60 * 60)
PASSWORD_RESET_TTL_SECONDS = env_int("PASSWORD_RESET_TTL_SECONDS", 60 * 60)
# Account emails sent by the Notification service (flag monolith.accounts.emails_via_service): the page a
# reset email links to (the token is appended as ?token=), and the locale of the emails ("" = the service's).
PASSWORD_RESET_URL = os.environ.get("PASSWORD_RESET_URL", "https://techstore.example/account/reset-password")
ACCOUNT_EMAIL_LOCALE = os.environ.get("ACCOUNT_EMAIL_LOCALE", "")

# Bodies above this size get a 413 before any view parses them.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "TechStore <no-reply@techstore.example>")

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
        if os.environ.get("REDIS_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# External card gateways (the sandbox in development and tests).
PAYMENT_GATEWAYS = {
    "cardinal": os.environ.get("PAYMENT_CARDINAL_URL") or f"{url_of('SANDBOX')}/cardinal",
    "northpay": os.environ.get("PAYMENT_NORTHPAY_URL") or f"{url_of('SANDBOX')}/northpay",
}
PAYMENT_DEFAULT_GATEWAY = os.environ.get("PAYMENT_DEFAULT_GATEWAY", "cardinal")
PAYMENT_CONNECT_TIMEOUT = float(os.environ.get("PAYMENT_CONNECT_TIMEOUT", "2"))
PAYMENT_READ_TIMEOUT = float(os.environ.get("PAYMENT_READ_TIMEOUT", "5"))
PAYMENT_WEBHOOK_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
PAYMENT_API_KEY = os.environ.get("PAYMENT_API_KEY", "dev-only-gateway-api-key")  # DEV-ONLY

# --- payments ---
# Provider webhooks older (or newer) than this are refused as replays.
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300)
# Antifraud: a score of 0-100 from the rules in payments/antifraud.py; at or above this the charge is refused.
PAYMENT_FRAUD_REJECT_SCORE = env_int("PAYMENT_FRAUD_REJECT_SCORE", 70)
PAYMENT_FRAUD_AMOUNT_HIGH = os.environ.get("PAYMENT_FRAUD_AMOUNT_HIGH", "1000.00")  # decimal string
PAYMENT_FRAUD_AMOUNT_VERY_HIGH = os.environ.get("PAYMENT_FRAUD_AMOUNT_VERY_HIGH", "5000.00")  # decimal string
PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS = env_int("PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS", 60 * 60)
PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER = env_int("PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER", 5)
PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD = env_int("PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD", 3)
PAYMENT_FRAUD_MAX_DECLINES_PER_CARD = env_int("PAYMENT_FRAUD_MAX_DECLINES_PER_CARD", 2)
PAYMENT_FRAUD_MAX_CARDS_PER_USER = env_int("PAYMENT_FRAUD_MAX_CARDS_PER_USER", 3)
# --- end payments ---

# --- product service (ACL catalog client, `manage.py sync products ...`) ---
PRODUCT_SERVICE_URL = url_of("PRODUCT_SERVICE")  # PRODUCT_SERVICE_URL, else 127.0.0.1:PRODUCT_SERVICE_PORT
# Drill knob: share of /internal/v1/stock calls answered 503 before doing anything (only with DEBUG on).
INTERNAL_STOCK_FAULT_RATE = float(os.environ.get("INTERNAL_STOCK_FAULT_RATE", "0") or 0)
# The Order service (`sync orders`: its internal import, export and status).
ORDER_SERVICE_URL = url_of("ORDER_SERVICE")
PAYMENT_SERVICE_URL = url_of("PAYMENT_SERVICE")  # `sync payments` target
INTERNAL_API_TOKEN = os.environ.get("INTERNAL_API_TOKEN", DEV_INTERNAL_API_TOKEN)
# Mutual TLS on internal hops (kernel.mtls; unset: plain HTTP): this process's certificate for the ACL
# clients and the sync jobs, and the internal CA.
INTERNAL_TLS = internal_tls_from_env(os.environ)
CATALOG_CLIENT_CONNECT_TIMEOUT = float(os.environ.get("CATALOG_CLIENT_CONNECT_TIMEOUT", "0.5"))
CATALOG_CLIENT_READ_TIMEOUT = float(os.environ.get("CATALOG_CLIENT_READ_TIMEOUT", "2"))
# Who owns stock levels (the same name and values as the Product and Order services): `monolith` before the
# stock cutover; `service` from it on: the monolith's checkout reserves and releases at the Product service's
# /internal/v1/stock (reference order-<number>), never in its own tables (README "Stock ownership cutover").
PRODUCT_STOCK_OWNER = os.environ.get("PRODUCT_STOCK_OWNER", "monolith")
if PRODUCT_STOCK_OWNER not in ("monolith", "service"):
    raise ImproperlyConfigured(f"PRODUCT_STOCK_OWNER is 'monolith' or 'service', not {PRODUCT_STOCK_OWNER!r}")
# The checkout's calls to the Product service's stock endpoints: connect/read timeouts (seconds) and attempts
# (connection errors and 5xx only; a reservation is idempotent by its reference). Past them: 503.
STOCK_CLIENT_CONNECT_TIMEOUT = float(os.environ.get("STOCK_CLIENT_CONNECT_TIMEOUT", "0.5"))
STOCK_CLIENT_READ_TIMEOUT = float(os.environ.get("STOCK_CLIENT_READ_TIMEOUT", "3"))
STOCK_CLIENT_ATTEMPTS = env_int("STOCK_CLIENT_ATTEMPTS", 2)
# --- end product service ---

# --- auth cutover: the gateway's signed X-Strangler-Identity (JWT users) and the refund ABAC limit ---
INTERNAL_IDENTITY_KEY = os.environ.get("INTERNAL_IDENTITY_KEY", DEV_INTERNAL_IDENTITY_KEY)
AUTH_SERVICE_URL = url_of("AUTH_SERVICE")  # `sync users` target
# decimal string; unset or empty: staff refund any amount (the monolith's behaviour before the limit)
PAYMENT_STAFF_REFUND_LIMIT = os.environ.get("PAYMENT_STAFF_REFUND_LIMIT", "")
# --- end auth cutover ---

# --- shadow comparator: its own database (alias `shadow`; shadow.routers sends the shadow app there) ---
if "SHADOW_DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES["shadow"] = database_config(
    "SHADOW_DATABASE_URL",
    os.environ.get("SHADOW_DATABASE_URL", f"sqlite:///{VAR_DIR / 'shadow.sqlite3'}"),
    conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
)
DATABASE_ROUTERS = ["shadow.routers.ShadowRouter", "control.routers.ControlRouter"]
SHADOW_RULES = os.environ.get("SHADOW_RULES") or str(BASE_DIR / "shadow" / "rules.yaml")
# --- end shadow comparator ---

# --- control (rollouts, gates, replay): its own database (alias `control`; control.routers) ---
# It outlives the monolith: nothing of it is in the monolith's tables. `manage.py migrate --database control`.
if "CONTROL_DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES["control"] = database_config(
    "CONTROL_DATABASE_URL",
    os.environ.get("CONTROL_DATABASE_URL", f"sqlite:///{VAR_DIR / 'control.sqlite3'}"),
    conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
)
# --- end control ---

# --- outbox relay (`manage.py sync products follow`): the broker it publishes to ---
# Unset: kombu's filesystem transport under var/broker (embedded profile, the services read the same
# folder); services profile: amqp://guest:guest@127.0.0.1:5672// (publisher confirms on).
BROKER_URL = os.environ.get("BROKER_URL", "")
# Signed critical events (chassis/event_keys.py): the monolith's own event-signing key, the consumers' check.
globals().update(event_signing_settings(os.environ))
# Users registered at the Auth service have ids from this block on (its AUTH_USER_ID_OFFSET: set both to
# the same value); `sync users verify` checks the two blocks of ids apart.
AUTH_USER_ID_OFFSET = env_int("AUTH_USER_ID_OFFSET", 10**12)
# Products, categories and stock movements created at the Product service (route catalog.write) have ids
# from this block on (the service's CATALOG_ID_OFFSET: set both to the same value).
CATALOG_ID_OFFSET = env_int("CATALOG_ID_OFFSET", 10**12)
# --- end outbox relay ---

# Legacy sessions and opaque API tokens (the monolith's own logins). Turn off (false) once route.auth.login
# is at 100% and `legacy_sessions retire-check` passes (no live session or token left): the session and
# token logins answer 410 legacy_credentials_retired, a request with a legacy token is 401 with that code,
# a session cookie counts for nothing; JWT users (the gateway's signed identity) are unaffected. Off at the
# gateway and the Auth service too: GATEWAY_LEGACY_CREDENTIALS, AUTH_LEGACY_CREDENTIALS.
LEGACY_CREDENTIALS = env_bool("LEGACY_CREDENTIALS", True)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "legacy_monolith.accounts.authentication.InternalIdentityAuthentication",
        "legacy_monolith.accounts.authentication.LegacyTokenAuthentication",
        "legacy_monolith.accounts.authentication.LegacySessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": ["chassis.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "legacy_monolith.core.exceptions.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "legacy_monolith.core.pagination.StandardPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TechStore monolith API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # request bodies as their own components: a string that may not be blank gets minLength 1 there
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chassis.openapi.standard_error_responses",  # every operation documents the standard errors
    ],
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "legacy_monolith.core.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG:
    insecure = [
        name
        for name, value, dev in (
            ("SECRET_KEY", SECRET_KEY, DEV_SECRET_KEY),
            ("PAYMENT_WEBHOOK_SECRET", PAYMENT_WEBHOOK_SECRET, DEV_WEBHOOK_SECRET),
            ("INTERNAL_API_TOKEN", INTERNAL_API_TOKEN, DEV_INTERNAL_API_TOKEN),
            ("INTERNAL_IDENTITY_KEY", INTERNAL_IDENTITY_KEY, DEV_INTERNAL_IDENTITY_KEY),
        )
        if value == dev
    ]
    if insecure:
        raise ImproperlyConfigured(f"DEBUG is off but {', '.join(insecure)} still hold development defaults")
