"""The gateway (the only public process) and the sandbox standing for the external providers."""

from __future__ import annotations

from deploy.common import AUDIT_CHECKPOINTS, BROKER_URL, FLAGS, ISSUER
from deploy.model import Component, Probe, Process

GATEWAY = Component(
    "gateway",
    env={
        **ISSUER,
        "DEBUG": "false",
        "MONOLITH_URL": "http://monolith:8000",
        "PRODUCT_SERVICE_URL": "http://product-service:8101",
        "AUTH_SERVICE_URL": "http://auth-service:8102",
        "ORDER_SERVICE_URL": "http://order-service:8103",
        "PAYMENT_SERVICE_URL": "http://payment-service:8104",
        "NOTIFICATION_SERVICE_URL": "http://notification-service:8105",
        "REDIS_URL": "redis://redis:6379/3",
        "BROKER_URL": BROKER_URL,
        "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
        "SHADOW_KEY_SECRET": "${SHADOW_KEY_SECRET}",
        "GATEWAY_AUDIT_KEY": "${GATEWAY_AUDIT_KEY}",
        "TESTER_OVERRIDE_KEY": "${TESTER_OVERRIDE_KEY}",
        "GATEWAY_AUDIT_CHECKPOINTS": AUDIT_CHECKPOINTS,
        "GATEWAY_METRICS_PORT": "9464",
        "ROUTES_FILE": "/etc/strangler/routes.yaml",
        **FLAGS,
    },
    processes=(
        Process(
            "gateway",
            (
                "python",
                "-m",
                "strangler_proxy",
                "--listen",
                "0.0.0.0:8080",
                "--workers",
                "2",
                "--set",
                "strangler_metrics_host=0.0.0.0",
            ),
            port=8080,
            metrics_port=9464,
            probe=Probe(port=9464, ready="/readyz", live="/healthz"),
            depends=(
                "monolith",
                "product-service",
                "auth-service",
                "order-service",
                "payment-service",
                "notification-service",
                "redis",
                "rabbitmq",
                "unleash",
            ),
            replicas=2,
            kind="http",
            public=True,
            hpa=True,
            config={"/etc/strangler/routes.yaml": "strangler_proxy/routes.yaml"},
            resources=("500m", "256Mi", "2", "512Mi"),
        ),
    ),
)

SANDBOX = Component(
    "sandbox",
    env={
        "SANDBOX_API_KEY": "${PAYMENT_API_KEY}",
        "SANDBOX_WEBHOOK_SECRET": "${PAYMENT_WEBHOOK_SECRET}",
        "SANDBOX_TEST_API_KEY": "${PAYMENT_TEST_API_KEY}",
        # a provider's webhooks come in through the edge, like a real one's
        "SANDBOX_WEBHOOK_URL": "http://gateway:8080/api/v1/payments/webhooks/{gateway}",
        # push and SMS: the Notification service's key and receipt secret; receipts through the edge too
        "SANDBOX_MESSAGING_API_KEY": "${NOTIFICATION_PROVIDER_API_KEY}",
        "SANDBOX_RECEIPT_SECRET": "${NOTIFICATION_RECEIPT_SECRET}",
        "SANDBOX_RECEIPT_URL": "http://gateway:8080/api/v2/notifications/receipts/{provider}",
    },
    processes=(
        Process(
            "sandbox",
            ("python", "-m", "sandbox", "--host", "0.0.0.0", "--port", "8900", "--quiet"),
            port=8900,
            probe=Probe(port=8900, ready="/_sandbox/healthz", live="/_sandbox/healthz"),
            kind="http",
        ),
    ),
)
