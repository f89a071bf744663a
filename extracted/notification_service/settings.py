"""Settings for the Notification service (`python -m extracted.notification_service ...`), on the chassis.

The environment is read here once (chassis.settings reads the shared variables). Defaults give the embedded
profile: SQLite under var/, a filesystem broker, and email written to files under var/mail when no SMTP
server is named (NOTIFICATION_SMTP_HOST).
"""

import os

from django.core.exceptions import ImproperlyConfigured

from chassis.settings import env_float, env_int, service_settings
from contracts.addresses import auth_issuer, url_of
from contracts.notifications import LOCALES

globals().update(
    service_settings(
        "notification_service",
        database_env="NOTIFICATION_DATABASE_URL",
        root_urlconf="extracted.notification_service.urls",
        default_port=8105,
        apps=["extracted.notification_service"],
        consumers=[
            "extracted.notification_service.consumers.NotificationEventsConsumer",
            "extracted.notification_service.consumers.DeliveriesConsumer",
        ],
    )
)
_env = os.environ

# --- email over SMTP (Django's SMTP backend); without a host, files under var/mail (embedded profile) ---
NOTIFICATION_SMTP_HOST = _env.get("NOTIFICATION_SMTP_HOST", "")
EMAIL_HOST = NOTIFICATION_SMTP_HOST or "localhost"
EMAIL_PORT = env_int(_env, "NOTIFICATION_SMTP_PORT", 25)
EMAIL_HOST_USER = _env.get("NOTIFICATION_SMTP_USER", "")
EMAIL_HOST_PASSWORD = _env.get("NOTIFICATION_SMTP_PASSWORD", "")
EMAIL_USE_TLS = _env.get("NOTIFICATION_SMTP_STARTTLS", "").lower() in {"1", "true", "yes", "on"}
EMAIL_TIMEOUT = env_float(_env, "NOTIFICATION_SMTP_TIMEOUT", 10.0)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if NOTIFICATION_SMTP_HOST
    else "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = str(VAR_DIR / "mail")  # noqa: F821 (from service_settings)
DEFAULT_FROM_EMAIL = _env.get("NOTIFICATION_FROM_EMAIL", "TechStore <no-reply@techstore.example>")
# The domain of Message-IDs: a message's id is derived from its idempotency key (see services/delivery.py).
NOTIFICATION_MESSAGE_ID_DOMAIN = _env.get("NOTIFICATION_MESSAGE_ID_DOMAIN", "notifications.techstore.example")

# --- push and SMS providers (the sandbox's by default) ---
NOTIFICATION_PUSH_URL = _env.get("NOTIFICATION_PUSH_URL") or f"{url_of('SANDBOX', _env)}/push"
NOTIFICATION_SMS_URL = _env.get("NOTIFICATION_SMS_URL") or f"{url_of('SANDBOX', _env)}/sms"
DEV_PROVIDER_API_KEY = "dev-only-messaging-api-key"  # DEV-ONLY (the sandbox's default)
DEV_RECEIPT_SECRET = "dev-only-receipt-secret"  # DEV-ONLY
NOTIFICATION_PROVIDER_API_KEY = _env.get("NOTIFICATION_PROVIDER_API_KEY", DEV_PROVIDER_API_KEY)
NOTIFICATION_RECEIPT_SECRET = _env.get("NOTIFICATION_RECEIPT_SECRET", DEV_RECEIPT_SECRET)
NOTIFICATION_RECEIPT_TOLERANCE_SECONDS = env_int(_env, "NOTIFICATION_RECEIPT_TOLERANCE_SECONDS", 300)
NOTIFICATION_PROVIDER_TIMEOUT = env_float(_env, "NOTIFICATION_PROVIDER_TIMEOUT", 5.0)

# --- delivery: retries (Celery, exponential backoff with full jitter), then the dead-letter queue ---
NOTIFICATION_MAX_RETRIES = env_int(_env, "NOTIFICATION_MAX_RETRIES", 6)
NOTIFICATION_RETRY_BASE_SECONDS = env_float(_env, "NOTIFICATION_RETRY_BASE_SECONDS", 2.0)
NOTIFICATION_RETRY_MAX_SECONDS = env_float(_env, "NOTIFICATION_RETRY_MAX_SECONDS", 300.0)
# The rows created by one batch of events go to SMTP in tasks of at most this many (one connection each).
NOTIFICATION_SEND_BATCH = env_int(_env, "NOTIFICATION_SEND_BATCH", 50)
# A send claimed longer ago than this (its worker died) is handed out again by the sweep.
NOTIFICATION_SEND_LEASE_SECONDS = env_int(_env, "NOTIFICATION_SEND_LEASE_SECONDS", 120)
# Per-user flood guard: at most this many messages per user per window; the rest are suppressed.
NOTIFICATION_RATE_LIMIT = env_int(_env, "NOTIFICATION_RATE_LIMIT", 20)
NOTIFICATION_RATE_WINDOW_SECONDS = env_int(_env, "NOTIFICATION_RATE_WINDOW_SECONDS", 3600)
NOTIFICATION_DEFAULT_LOCALE = _env.get("NOTIFICATION_DEFAULT_LOCALE", "pt-BR")
if NOTIFICATION_DEFAULT_LOCALE not in LOCALES:
    raise ImproperlyConfigured(f"NOTIFICATION_DEFAULT_LOCALE must be one of {', '.join(LOCALES)}")
# Links in messages (order pages).
NOTIFICATION_SHOP_URL = _env.get("NOTIFICATION_SHOP_URL", "https://techstore.example")

# --- who is calling: the gateway's signed identity (INTERNAL_IDENTITY_KEY, shared with the gateway) ---
INTERNAL_IDENTITY_KEY = _env.get("INTERNAL_IDENTITY_KEY", "")
if INTERNAL_IDENTITY_KEY and len(INTERNAL_IDENTITY_KEY) < 32:
    raise ImproperlyConfigured("INTERNAL_IDENTITY_KEY must be at least 32 characters")

if not DEBUG:  # noqa: F821 (from service_settings)
    _insecure = [
        name
        for name, value, dev in (
            ("NOTIFICATION_PROVIDER_API_KEY", NOTIFICATION_PROVIDER_API_KEY, DEV_PROVIDER_API_KEY),
            ("NOTIFICATION_RECEIPT_SECRET", NOTIFICATION_RECEIPT_SECRET, DEV_RECEIPT_SECRET),
        )
        if value == dev
    ]
    if _insecure:
        raise ImproperlyConfigured(f"DEBUG is off but {', '.join(_insecure)} still hold development defaults")

# Legacy credentials (Token, session cookie) the gateway forwards are checked at the monolith's /me; JWTs
# against the Auth service's JWKS.
MONOLITH_URL = url_of("MONOLITH", _env)
AUTH_SERVICE_URL = url_of("AUTH_SERVICE", _env)
AUTH_ISSUER = auth_issuer(_env)  # AUTH_ISSUER, else the Auth service's address
AUTH_AUDIENCE = _env.get("AUTH_AUDIENCE", "techstore")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "extracted.notification_service.identity.GatewayIdentityAuthentication",
        "extracted.notification_service.identity.AccessTokenAuthentication",
        "extracted.notification_service.identity.LegacyCredentialAuthentication",
    ],
}

CELERY_BEAT_SCHEDULE = {
    # Sends whose worker died mid-send (lease expired) and queued rows whose task was lost.
    "notifications-sweep": {
        "task": "extracted.notification_service.tasks.notifications_sweep",
        "schedule": 30.0,
    },
}
