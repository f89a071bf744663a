"""The Payment service: its API on 8104 (internal 9104), its outbox relay, Celery."""

from __future__ import annotations

from deploy.common import ISSUER, SHARED, _celery, _serve, _service, signed_events
from deploy.infra import PAYMENT_DB
from deploy.model import Component, Process, http_probe, internal, worker_probe

PAYMENT = Component(
    "payment",
    database=PAYMENT_DB,
    env={
        **SHARED,
        **signed_events("payment"),
        **ISSUER,
        "PAYMENT_DATABASE_URL": PAYMENT_DB.url(),
        "REDIS_URL": "redis://redis:6379/5",  # antifraud velocity counters
        "SECRET_KEY": "${PAYMENT_SECRET_KEY}",
        "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
        "INTERNAL_PORT": str(internal(8104)),
        "PAYMENT_CARDINAL_URL": "http://sandbox:8900/cardinal",
        "PAYMENT_NORTHPAY_URL": "http://sandbox:8900/northpay",
        "PAYMENT_API_KEY": "${PAYMENT_API_KEY}",
        "PAYMENT_TEST_API_KEY": "${PAYMENT_TEST_API_KEY}",
        "PAYMENT_WEBHOOK_SECRET": "${PAYMENT_WEBHOOK_SECRET}",
        "PAYMENT_KEY_ENCRYPTION_KEY": "${PAYMENT_KEY_ENCRYPTION_KEY}",
        "PAYMENT_AUDIT_KEY": "${PAYMENT_AUDIT_KEY}",
        "MONOLITH_URL": f"http://monolith:{internal(8000)}",  # order lookups
        "AUTH_SERVICE_URL": f"http://auth-service:{internal(8102)}",  # the JWKS
    },
    migrate=(_service("extracted.payment_service", "migrate", "--noinput"),),
    processes=(
        Process(
            "payment-service",
            _serve("extracted.payment_service", 8104),
            port=8104,
            internal_port=internal(8104),
            probe=http_probe(8104),
            depends=("rabbitmq", "redis", "sandbox"),
            replicas=2,
            kind="http",
            hpa=True,
        ),
        Process(
            "payment-relay",
            _service("extracted.payment_service", "relay_outbox"),
            probe=worker_probe("PAYMENT_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
        ),
        *_celery("extracted.payment_service", "PAYMENT_DATABASE_URL"),
    ),
)

# Email, push and SMS fed by events. Only the Celery worker talks to the providers (every send is one of its
