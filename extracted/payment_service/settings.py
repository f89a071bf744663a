"""Settings for the Payment service (`python -m extracted.payment_service ...`), on the chassis helper.

The environment is read here once (chassis.settings reads the shared variables). The PAYMENT_* variables
the monolith reads mean the same here (gateway URLs, timeouts, API key, webhook secret and tolerance,
antifraud thresholds, the staff refund limit). Defaults give the embedded profile: SQLite under var/,
velocity counters in the database when REDIS_URL is unset, a development key encryption key refused when
DEBUG is off.
"""

import os
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ImproperlyConfigured

from chassis.settings import env_int, service_settings
from contracts.addresses import auth_issuer, url_of
from kernel.audit import AuditConfigError, AuditKey
from kernel.crypto import KeyMaterialError, parse_encryption_key

globals().update(
    service_settings(
        "payment_service",
        database_env="PAYMENT_DATABASE_URL",
        root_urlconf="extracted.payment_service.urls",
        default_port=8104,
        apps=["drf_spectacular", "extracted.payment_service"],
    )
)
_env = os.environ

# --- card gateways (the same variables as the monolith's) ---
PAYMENT_GATEWAYS = {
    "cardinal": _env.get("PAYMENT_CARDINAL_URL") or f"{url_of('SANDBOX', _env)}/cardinal",
    "northpay": _env.get("PAYMENT_NORTHPAY_URL") or f"{url_of('SANDBOX', _env)}/northpay",
}
# Each provider's test mode (shadow requests go there): its own endpoint and key, nothing real is charged.
PAYMENT_TEST_GATEWAYS = {
    "cardinal": _env.get("PAYMENT_CARDINAL_TEST_URL", PAYMENT_GATEWAYS["cardinal"].rstrip("/") + "-test"),
    "northpay": _env.get("PAYMENT_NORTHPAY_TEST_URL", PAYMENT_GATEWAYS["northpay"].rstrip("/") + "-test"),
}
PAYMENT_DEFAULT_GATEWAY = _env.get("PAYMENT_DEFAULT_GATEWAY", "cardinal")
PAYMENT_CONNECT_TIMEOUT = float(_env.get("PAYMENT_CONNECT_TIMEOUT", "2"))
PAYMENT_READ_TIMEOUT = float(_env.get("PAYMENT_READ_TIMEOUT", "5"))
DEV_PAYMENT_API_KEY = "dev-only-gateway-api-key"  # DEV-ONLY (the sandbox's default)
DEV_PAYMENT_TEST_API_KEY = "dev-only-gateway-test-key"  # DEV-ONLY (the sandbox's test-mode default)
DEV_WEBHOOK_SECRET = "dev-only-webhook-secret"  # DEV-ONLY
PAYMENT_API_KEY = _env.get("PAYMENT_API_KEY", DEV_PAYMENT_API_KEY)
# The providers' test mode: shadow requests run against it, so nothing they do is a real charge.
PAYMENT_TEST_API_KEY = _env.get("PAYMENT_TEST_API_KEY", DEV_PAYMENT_TEST_API_KEY)
PAYMENT_WEBHOOK_SECRET = _env.get("PAYMENT_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = env_int(_env, "PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300)

# --- antifraud (the monolith's rules and thresholds) ---
PAYMENT_FRAUD_REJECT_SCORE = env_int(_env, "PAYMENT_FRAUD_REJECT_SCORE", 70)
PAYMENT_FRAUD_AMOUNT_HIGH = _env.get("PAYMENT_FRAUD_AMOUNT_HIGH", "1000.00")
PAYMENT_FRAUD_AMOUNT_VERY_HIGH = _env.get("PAYMENT_FRAUD_AMOUNT_VERY_HIGH", "5000.00")
PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS = env_int(_env, "PAYMENT_FRAUD_VELOCITY_WINDOW_SECONDS", 60 * 60)
PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER = env_int(_env, "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER", 5)
PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD = env_int(_env, "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD", 3)
PAYMENT_FRAUD_MAX_DECLINES_PER_CARD = env_int(_env, "PAYMENT_FRAUD_MAX_DECLINES_PER_CARD", 2)
PAYMENT_FRAUD_MAX_CARDS_PER_USER = env_int(_env, "PAYMENT_FRAUD_MAX_CARDS_PER_USER", 3)
# Points of each antifraud reason, when they must differ from the monolith's (`country_mismatch=20,...`).
PAYMENT_FRAUD_WEIGHTS = _env.get("PAYMENT_FRAUD_WEIGHTS", "")
for _name in ("PAYMENT_FRAUD_AMOUNT_HIGH", "PAYMENT_FRAUD_AMOUNT_VERY_HIGH"):
    try:
        Decimal(globals()[_name])
    except InvalidOperation:
        raise ImproperlyConfigured(f"{_name} must be a decimal amount such as 1000.00") from None
try:
    from extracted.payment_service.antifraud import weights_from_setting

    weights_from_setting(PAYMENT_FRAUD_WEIGHTS)
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# Where velocity counters live: Redis (REDIS_URL; `PAYMENT_VELOCITY_PREFIX` keys) or, without it, the
# service's database (the embedded profile).
PAYMENT_VELOCITY_PREFIX = _env.get("PAYMENT_VELOCITY_PREFIX", "payment-service:velocity")

# --- refunds: the ABAC policy payment.refund (contracts.policies) with this staff limit ---
PAYMENT_STAFF_REFUND_LIMIT = _env.get("PAYMENT_STAFF_REFUND_LIMIT", "")

# --- asynchronous charges ---
# How long a charge may take when its caller names no deadline; provider retries stop there.
PAYMENT_CHARGE_DEADLINE_SECONDS = env_int(_env, "PAYMENT_CHARGE_DEADLINE_SECONDS", 120)
PAYMENT_TASK_MAX_RETRIES = env_int(_env, "PAYMENT_TASK_MAX_RETRIES", 8)
# The reconciler (Celery beat, and `payments reconcile`): payments left pending or unknown for longer than
# this are asked about at their provider.
PAYMENT_RECONCILE_AFTER_SECONDS = env_int(_env, "PAYMENT_RECONCILE_AFTER_SECONDS", 60)
PAYMENT_RECONCILE_INTERVAL_SECONDS = env_int(_env, "PAYMENT_RECONCILE_INTERVAL_SECONDS", 60)

# --- shadow copies: where the order a mirrored checkout paid for is looked up ---
MONOLITH_URL = url_of("MONOLITH", _env)
PAYMENT_ORDER_LOOKUP_URL = _env.get("PAYMENT_ORDER_LOOKUP_URL", MONOLITH_URL)
PAYMENT_ORDER_LOOKUP_TIMEOUT = float(_env.get("PAYMENT_ORDER_LOOKUP_TIMEOUT", "3"))
# The newest order older than this is not the one a mirrored checkout just placed; a copy that arrives
# while legacy still checks out waits this long for the order to settle.
PAYMENT_SHADOW_ORDER_MAX_AGE_SECONDS = env_int(_env, "PAYMENT_SHADOW_ORDER_MAX_AGE_SECONDS", 30)
PAYMENT_SHADOW_ORDER_WAIT_SECONDS = env_int(_env, "PAYMENT_SHADOW_ORDER_WAIT_SECONDS", 10)

# --- who is calling: the gateway's signed identity, and access tokens from the Auth service ---
INTERNAL_IDENTITY_KEY = _env.get("INTERNAL_IDENTITY_KEY", "")
if INTERNAL_IDENTITY_KEY and len(INTERNAL_IDENTITY_KEY) < 32:
    raise ImproperlyConfigured("INTERNAL_IDENTITY_KEY must be at least 32 characters")
AUTH_SERVICE_URL = url_of("AUTH_SERVICE", _env)
AUTH_ISSUER = auth_issuer(_env)  # AUTH_ISSUER, else the Auth service's address (AUTH_SERVICE_URL / _PORT)
AUTH_AUDIENCE = _env.get("AUTH_AUDIENCE", "techstore")

# --- field encryption: AES-256-GCM data keys, sealed in the database under this key encryption key ---
DEV_KEY_ENCRYPTION_KEY = (
    "ZGV2LW9ubHktcGF5bWVudC1rZXktZW5jcnlwdGlvbiE"  # DEV-ONLY (b64 "dev-only-payment-key-encryption!")
)
PAYMENT_KEY_ENCRYPTION_KEY = _env.get("PAYMENT_KEY_ENCRYPTION_KEY", DEV_KEY_ENCRYPTION_KEY)
try:
    parse_encryption_key(PAYMENT_KEY_ENCRYPTION_KEY)
except KeyMaterialError as exc:
    raise ImproperlyConfigured(f"PAYMENT_KEY_ENCRYPTION_KEY: {exc}") from None

# --- the audit trail (audit.py): HMAC-SHA256 chain (kernel.audit), signed checkpoints in another store ---
DEV_PAYMENT_AUDIT_KEY = "dev-only-payment-audit-key-not-for-production"  # DEV-ONLY
PAYMENT_AUDIT_KEY = _env.get("PAYMENT_AUDIT_KEY", DEV_PAYMENT_AUDIT_KEY)
# `table` (payment_service_auditcheckpoint, the append's transaction), a file path, or a redis:// URL.
PAYMENT_AUDIT_CHECKPOINTS = _env.get("PAYMENT_AUDIT_CHECKPOINTS", "table")
PAYMENT_AUDIT_CHECKPOINT_SECONDS = float(_env.get("PAYMENT_AUDIT_CHECKPOINT_SECONDS", "10"))
try:
    AuditKey(PAYMENT_AUDIT_KEY)
except AuditConfigError as exc:
    raise ImproperlyConfigured(f"PAYMENT_AUDIT_KEY: {exc}") from None

if not DEBUG:  # noqa: F821 (from service_settings)
    _insecure = [
        name
        for name, value, dev in (
            ("PAYMENT_AUDIT_KEY", PAYMENT_AUDIT_KEY, DEV_PAYMENT_AUDIT_KEY),
            ("PAYMENT_KEY_ENCRYPTION_KEY", PAYMENT_KEY_ENCRYPTION_KEY, DEV_KEY_ENCRYPTION_KEY),
            ("PAYMENT_API_KEY", PAYMENT_API_KEY, DEV_PAYMENT_API_KEY),
            ("PAYMENT_WEBHOOK_SECRET", PAYMENT_WEBHOOK_SECRET, DEV_WEBHOOK_SECRET),
        )
        if value == dev
    ]
    if _insecure:
        raise ImproperlyConfigured(f"DEBUG is off but {', '.join(_insecure)} still hold development defaults")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "extracted.payment_service.identity.GatewayIdentityAuthentication",
        "extracted.payment_service.identity.AccessTokenAuthentication",
        "extracted.payment_service.identity.LegacyCredentialAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TechStore Payment service API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chassis.openapi.standard_error_responses",  # every operation documents the standard errors
    ],
}

# Celery beat (`python -m extracted.payment_service beat`): the reconciler.
CELERY_BEAT_SCHEDULE = {
    "payments-reconcile": {
        "task": "extracted.payment_service.tasks.payments_reconcile_periodic",
        "schedule": PAYMENT_RECONCILE_INTERVAL_SECONDS,
    }
}

# `python -m extracted.payment_service grpc`: the PaymentService (Authorize, Status) for the saga (issue 20).
PAYMENT_GRPC_PORT = env_int(os.environ, "PAYMENT_GRPC_PORT", 9104)
