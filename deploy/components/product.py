"""The Product service: its API on 8101 (internal 9101), its consumers and its outbox relay."""

from __future__ import annotations

from deploy.common import EVENT_CONSUMER, SHARED, _serve, _service, signed_events
from deploy.infra import PRODUCT_DB
from deploy.model import Component, Process, http_probe, internal, worker_probe

PRODUCT_ENV = {
    **SHARED,
    **signed_events("product"),
    "PRODUCT_DATABASE_URL": PRODUCT_DB.url(),
    "CATALOG_STORE_URL": "mongodb://mongo:27017/product_catalog",  # the Mongo adapter in this profile
    "REDIS_URL": "redis://redis:6379/1",
    "SECRET_KEY": "${PRODUCT_SECRET_KEY}",
    "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
    "INTERNAL_PORT": str(internal(8101)),
    "PRODUCT_STOCK_OWNER": "monolith",
}
PRODUCT = Component(
    "product",
    database=PRODUCT_DB,
    env=PRODUCT_ENV,
    migrate=(_service("extracted.product_service", "migrate", "--noinput"),),
    processes=(
        Process(
            "product-service",
            _serve("extracted.product_service", 8101),
            port=8101,
            internal_port=internal(8101),
            probe=http_probe(8101),
            depends=("redis", "rabbitmq", "mongo"),
            replicas=2,
            kind="http",
            hpa=True,
        ),
        Process(
            "product-consumer-catalog",
            _service("extracted.product_service", "consume", "product_service.catalog"),
            probe=worker_probe("PRODUCT_DATABASE_URL", "CATALOG_STORE_URL", "BROKER_URL"),
            depends=("rabbitmq", "mongo"),
            env=EVENT_CONSUMER,
        ),
        Process(
            "product-consumer-stock",
            _service("extracted.product_service", "consume", "product_service.stock"),
            probe=worker_probe("PRODUCT_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            env=EVENT_CONSUMER,
        ),
        # the service's own outbox (stock.reserved / stock.released)
        Process(
            "product-relay",
            _service("extracted.product_service", "relay_outbox"),
            probe=worker_probe("PRODUCT_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
        ),
    ),
)
