"""Settings for the Product service (`python -m extracted.product_service ...`), on the chassis helper.

The environment is read here once (chassis.settings reads the shared variables). Defaults give
the embedded profile: SQLite under var/, the ORM store, a local-memory cache, a filesystem broker.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from chassis.settings import env_bool, env_int, service_settings
from contracts.product import DEFAULT_CATALOG_ID_OFFSET

globals().update(
    service_settings(
        "product_service",
        database_env="PRODUCT_DATABASE_URL",
        root_urlconf="extracted.product_service.urls",
        default_port=8101,
        apps=["drf_spectacular", "extracted.product_service"],
        consumers=[
            "extracted.product_service.consumers.CatalogConsumer",
            "extracted.product_service.consumers.StockConsumer",
        ],
    )
)

# `orm` = documents in PRODUCT_DATABASE_URL (PostgreSQL JSONB / SQLite JSON); `mongodb://...` = MongoDB.
CATALOG_STORE_URL = os.environ.get("CATALOG_STORE_URL", "orm")

# Product reads (detail, listing and search pages) go through a cache-aside; off for cold measurements.
PRODUCT_CACHE_ENABLED = env_bool(os.environ, "PRODUCT_CACHE_ENABLED", True)
PRODUCT_CACHE_TTL_SECONDS = env_int(os.environ, "PRODUCT_CACHE_TTL_SECONDS", 300)
PRODUCT_CACHE_PREFIX = os.environ.get("PRODUCT_CACHE_PREFIX", "product-service")
# Redis is only that cache (reads are answered uncached without it): a Redis outage leaves /readyz 200,
# reported under "degraded", instead of taking every instance out of the load balancer.
READINESS_OPTIONAL = {"redis"}

# Who owns stock levels: `monolith` before cutover (stock arrives inside product documents), `service`
# after it (document upserts keep the service's stock; it changes only by reserve/release/adjust events).
PRODUCT_STOCK_OWNER = os.environ.get("PRODUCT_STOCK_OWNER", "monolith")
if PRODUCT_STOCK_OWNER not in ("monolith", "service"):
    raise ImproperlyConfigured(f"PRODUCT_STOCK_OWNER is 'monolith' or 'service', not {PRODUCT_STOCK_OWNER!r}")

# Products, categories and stock movements created here (route catalog.write) take ids from this block on;
# the monolith's CATALOG_ID_OFFSET must be the same (contracts.product).
CATALOG_ID_OFFSET = env_int(os.environ, "CATALOG_ID_OFFSET", DEFAULT_CATALOG_ID_OFFSET)

# Internal import batches are larger than public requests; public bodies keep MAX_REQUEST_BODY_BYTES.
PRODUCT_INTERNAL_MAX_BODY_BYTES = env_int(os.environ, "PRODUCT_INTERNAL_MAX_BODY_BYTES", 16 * 1024 * 1024)
MAX_REQUEST_BODY_BYTES = max(MAX_REQUEST_BODY_BYTES, PRODUCT_INTERNAL_MAX_BODY_BYTES)  # noqa: F821
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES

# `python -m extracted.product_service grpc`: the StockService for the saga's hot calls (issue 20).
PRODUCT_GRPC_PORT = env_int(os.environ, "PRODUCT_GRPC_PORT", 9101)

# The gateway's signed X-Strangler-Identity (api/identity.py): trusted only when this key is set.
INTERNAL_IDENTITY_KEY = os.environ.get("INTERNAL_IDENTITY_KEY", "")
if INTERNAL_IDENTITY_KEY and len(INTERNAL_IDENTITY_KEY) < 32:
    raise ImproperlyConfigured("INTERNAL_IDENTITY_KEY must be at least 32 characters")

REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F821
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "extracted.product_service.api.identity.GatewayIdentityAuthentication"
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TechStore Product service API",
    "VERSION": "2.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chassis.openapi.standard_error_responses",  # every operation documents the standard errors
    ],
}
