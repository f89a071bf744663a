"""The Notification service: its API on 8105 (internal 9105), its consumers, Celery."""

from __future__ import annotations

from deploy.common import EVENT_CONSUMER, ISSUER, PUBLIC_URL, SHARED, _celery, _serve, _service, signed_events
from deploy.infra import NOTIFICATION_DB, SMTP_RELAY_HOST, SMTP_RELAY_PORT, SMTP_RELAY_USER
from deploy.model import Component, Process, http_probe, internal, worker_probe

NOTIFICATION_SENDERS = {
    "NOTIFICATION_SMTP_HOST": SMTP_RELAY_HOST,
    "NOTIFICATION_SMTP_PORT": str(SMTP_RELAY_PORT),
    "NOTIFICATION_SMTP_USER": SMTP_RELAY_USER,
    "NOTIFICATION_SMTP_PASSWORD": "${NOTIFICATION_SMTP_PASSWORD}",
    "NOTIFICATION_PUSH_URL": "http://sandbox:8900/push",
    "NOTIFICATION_SMS_URL": "http://sandbox:8900/sms",
}
NOTIFICATION = Component(
    "notification",
    database=NOTIFICATION_DB,
    env={
        **SHARED,
        **signed_events("notification"),
        "NOTIFICATION_DATABASE_URL": NOTIFICATION_DB.url(),
        "REDIS_URL": "redis://redis:6379/7",  # the replay guard of the gateway's identity header
        "SECRET_KEY": "${NOTIFICATION_SECRET_KEY}",
        "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
        "INTERNAL_PORT": str(internal(8105)),
        # every process checks both (DEBUG=false refuses a development default); the worker uses the key, the
        # receipts API the secret
        "NOTIFICATION_PROVIDER_API_KEY": "${NOTIFICATION_PROVIDER_API_KEY}",
        "NOTIFICATION_RECEIPT_SECRET": "${NOTIFICATION_RECEIPT_SECRET}",
        "NOTIFICATION_SHOP_URL": PUBLIC_URL,  # links in messages
    },
    migrate=(_service("extracted.notification_service", "migrate", "--noinput"),),
    processes=(
        Process(
            "notification-service",
            _serve("extracted.notification_service", 8105),
            port=8105,
            internal_port=internal(8105),
            probe=http_probe(8105),
            # the customers' credentials the gateway forwards: legacy tokens and sessions checked at the
            # monolith's /me, JWTs against the Auth service's JWKS
            env={
                "MONOLITH_URL": f"http://monolith:{internal(8000)}",
                "AUTH_SERVICE_URL": f"http://auth-service:{internal(8102)}",
                **ISSUER,
            },
            depends=("rabbitmq", "redis"),
            replicas=2,
            kind="http",
            hpa=True,
        ),
        # order.*, payment.*, account.* and user.upserted events -> one row per (event, channel, address)
        Process(
            "notification-consumer-events",
            _service("extracted.notification_service", "consume", "notification_service.events"),
            probe=worker_probe("NOTIFICATION_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            env=EVENT_CONSUMER,
        ),
        # replayed dead letters (`events dlq replay`): a failed row queued again
        Process(
            "notification-consumer-deliveries",
            _service("extracted.notification_service", "consume", "notification_service.deliveries"),
            probe=worker_probe("NOTIFICATION_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            env=EVENT_CONSUMER,
        ),
        *_celery(
            "extracted.notification_service",
            "NOTIFICATION_DATABASE_URL",
            worker_env=NOTIFICATION_SENDERS,
            worker_depends=(SMTP_RELAY_HOST, "sandbox"),
        ),
    ),
)
