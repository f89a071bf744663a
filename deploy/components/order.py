"""The Order service: its API on 8103 (internal 9103), the saga's consumers, its outbox relay, Celery."""

from __future__ import annotations

from deploy.common import EVENT_CONSUMER, SHARED, _celery, _serve, _service, signed_events
from deploy.infra import ORDER_DB
from deploy.model import Component, Process, http_probe, internal, worker_probe

ORDER = Component(
    "order",
    database=ORDER_DB,
    env={
        **SHARED,
        **signed_events("order"),
        "ORDER_DATABASE_URL": ORDER_DB.url(),
        "REDIS_URL": "redis://redis:6379/4",
        "SECRET_KEY": "${ORDER_SECRET_KEY}",
        "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
        "INTERNAL_PORT": str(internal(8103)),
        # saga participants: the monolith's and the Product service's /internal/v1 (stock, payments)
        "MONOLITH_URL": f"http://monolith:{internal(8000)}",
        "PRODUCT_SERVICE_URL": f"http://product-service:{internal(8101)}",
        "PRODUCT_STOCK_OWNER": "monolith",
        "ORDER_PAYMENT_ADAPTER": "monolith",
    },
    migrate=(_service("extracted.order_service", "migrate", "--noinput"),),
    processes=(
        Process(
            "order-service",
            _serve("extracted.order_service", 8103),
            port=8103,
            internal_port=internal(8103),
            probe=http_probe(8103),
            depends=("rabbitmq", "redis"),
            replicas=2,
            kind="http",
            hpa=True,
        ),
        Process(
            "order-consumer-participants",
            _service("extracted.order_service", "consume", "order_service.saga_participants"),
            probe=worker_probe("ORDER_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            env=EVENT_CONSUMER,
        ),
        Process(
            "order-consumer-orchestrator",
            _service("extracted.order_service", "consume", "order_service.saga_orchestrator"),
            probe=worker_probe("ORDER_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            env=EVENT_CONSUMER,
        ),
        Process(
            "order-relay",
            _service("extracted.order_service", "relay_outbox"),
            probe=worker_probe("ORDER_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
        ),
        *_celery("extracted.order_service", "ORDER_DATABASE_URL"),
    ),
)
