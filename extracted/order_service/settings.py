"""Settings for the Order service (`python -m extracted.order_service ...`), on the chassis helper.

The environment is read here once (chassis.settings reads the shared variables). Defaults give the embedded
profile: SQLite under var/, a filesystem broker, the monolith as the payment backend and stock owner.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from chassis.settings import env_float, env_int, service_settings
from contracts.addresses import url_of

globals().update(
    service_settings(
        "order_service",
        database_env="ORDER_DATABASE_URL",
        root_urlconf="extracted.order_service.urls",
        default_port=8103,
        apps=["drf_spectacular", "extracted.order_service"],
        consumers=[
            "extracted.order_service.saga.consumers.SagaParticipantConsumer",
            "extracted.order_service.saga.consumers.SagaOrchestratorConsumer",
        ],
    )
)
_env = os.environ


MONOLITH_URL = url_of("MONOLITH", _env)
PRODUCT_SERVICE_URL = url_of("PRODUCT_SERVICE", _env)
# Who owns stock levels (the saga's stock participant calls that owner): see the Product service.
PRODUCT_STOCK_OWNER = _env.get("PRODUCT_STOCK_OWNER", "monolith")
if PRODUCT_STOCK_OWNER not in ("monolith", "service"):
    raise ImproperlyConfigured(f"PRODUCT_STOCK_OWNER is 'monolith' or 'service', not {PRODUCT_STOCK_OWNER!r}")
# How the stock participant reaches the Product service (PRODUCT_STOCK_OWNER=service): `rest`
# (/internal/v1/stock) or `grpc` (its StockService at PRODUCT_GRPC_TARGET); the monolith is always REST.
ORDER_STOCK_TRANSPORT = _env.get("ORDER_STOCK_TRANSPORT", "rest")
if ORDER_STOCK_TRANSPORT not in ("rest", "grpc"):
    raise ImproperlyConfigured(f"ORDER_STOCK_TRANSPORT is 'rest' or 'grpc', not {ORDER_STOCK_TRANSPORT!r}")
PRODUCT_GRPC_PORT = env_int(_env, "PRODUCT_GRPC_PORT", 9101)
PRODUCT_GRPC_TARGET = _env.get("PRODUCT_GRPC_TARGET") or f"127.0.0.1:{PRODUCT_GRPC_PORT}"
# The payment backend of new orders (participants/payments.py: choose_payment_adapter).
ORDER_PAYMENT_ADAPTER = _env.get("ORDER_PAYMENT_ADAPTER", "monolith")
# The Payment service (adapter `payment_service`, chosen per order by the flag route.payments.charge).
PAYMENT_SERVICE_URL = url_of("PAYMENT_SERVICE", _env)
# How the `payment_service` adapter authorizes: `rest` (POST /internal/v1/payments) or `grpc` (its
# PaymentService Authorize, and Status while the worker decides, at PAYMENT_GRPC_TARGET); the other
# commands (tokenize, capture, void, refund) stay REST.
ORDER_PAYMENT_TRANSPORT = _env.get("ORDER_PAYMENT_TRANSPORT", "rest")
if ORDER_PAYMENT_TRANSPORT not in ("rest", "grpc"):
    raise ImproperlyConfigured(
        f"ORDER_PAYMENT_TRANSPORT is 'rest' or 'grpc', not {ORDER_PAYMENT_TRANSPORT!r}"
    )
PAYMENT_GRPC_PORT = env_int(_env, "PAYMENT_GRPC_PORT", 9104)
PAYMENT_GRPC_TARGET = _env.get("PAYMENT_GRPC_TARGET") or f"127.0.0.1:{PAYMENT_GRPC_PORT}"
ORDER_PAYMENT_GATEWAYS = [
    g.strip() for g in _env.get("ORDER_PAYMENT_GATEWAYS", "cardinal,northpay").split(",")
]

# v1 checkout waits this long for the saga's outcome, then answers 202 with the order's URL.
ORDER_CHECKOUT_WAIT_SECONDS = env_float(_env, "ORDER_CHECKOUT_WAIT_SECONDS", 10.0)
# A saga not finished by then is compensated; each step gets ORDER_SAGA_STEP_TIMEOUT_SECONDS per attempt
# and at most ORDER_SAGA_MAX_ATTEMPTS attempts (exponential backoff with full jitter in between).
ORDER_SAGA_DEADLINE_SECONDS = env_float(_env, "ORDER_SAGA_DEADLINE_SECONDS", 120.0)
ORDER_SAGA_STEP_TIMEOUT_SECONDS = env_float(_env, "ORDER_SAGA_STEP_TIMEOUT_SECONDS", 15.0)
ORDER_SAGA_MAX_ATTEMPTS = env_int(_env, "ORDER_SAGA_MAX_ATTEMPTS", 6)
ORDER_SAGA_RETRY_BASE_SECONDS = env_float(_env, "ORDER_SAGA_RETRY_BASE_SECONDS", 0.5)
ORDER_SAGA_RETRY_MAX_SECONDS = env_float(_env, "ORDER_SAGA_RETRY_MAX_SECONDS", 10.0)
ORDER_PARTICIPANT_CONNECT_TIMEOUT = env_float(_env, "ORDER_PARTICIPANT_CONNECT_TIMEOUT", 1.0)
ORDER_PARTICIPANT_READ_TIMEOUT = env_float(_env, "ORDER_PARTICIPANT_READ_TIMEOUT", 10.0)
ORDER_CATALOG_TIMEOUT = env_float(_env, "ORDER_CATALOG_TIMEOUT", 3.0)

# The gateway's signed X-Strangler-Identity (INTERNAL_IDENTITY_KEY, shared with the gateway and the monolith);
# legacy tokens and session cookies are checked at MONOLITH_URL/api/v1/accounts/me (cached briefly).
INTERNAL_IDENTITY_KEY = _env.get("INTERNAL_IDENTITY_KEY", "")
if INTERNAL_IDENTITY_KEY and len(INTERNAL_IDENTITY_KEY) < 32:
    raise ImproperlyConfigured("INTERNAL_IDENTITY_KEY must be at least 32 characters")
ORDER_IDENTITY_CACHE_SECONDS = env_int(_env, "ORDER_IDENTITY_CACHE_SECONDS", 30)

CELERY_BEAT_SCHEDULE = {
    # Steps past their deadline, retries whose backoff is over, sagas past their deadline.
    "saga-sweep": {"task": "extracted.order_service.tasks.saga_sweep", "schedule": 1.0},
}

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "extracted.order_service.apis.identity.GatewayIdentityAuthentication",
        "extracted.order_service.apis.identity.LegacyCredentialAuthentication",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TechStore Order service API",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chassis.openapi.standard_error_responses",  # every operation documents the standard errors
    ],
}
