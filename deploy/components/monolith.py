"""The monolith: gunicorn on 8000 (internal 9000) and the toolkit's long-running commands that run on its code
(the sync followers, the rollout controller, the shadow worker)."""

from __future__ import annotations

from deploy.common import EVENT_CONSUMER, FLAGS, LOCKOUT, SHARED, _manage, _metrics_on, signed_events
from deploy.infra import CONTROL_DB, SHADOW_DB, TECHSTORE_DB
from deploy.model import Component, Probe, Process, http_probe, internal, worker_probe

MONOLITH_ENV = {
    **SHARED,
    **signed_events("monolith"),
    **FLAGS,
    **LOCKOUT,
    "DATABASE_URL": TECHSTORE_DB.url(),
    "SHADOW_DATABASE_URL": SHADOW_DB.url(),
    "CONTROL_DATABASE_URL": CONTROL_DB.url(),
    "TESTER_OVERRIDE_KEY": "${TESTER_OVERRIDE_KEY}",
    "ROLLOUT_GATES_FILE": "/etc/strangler/gates.yaml",
    "ROLLOUT_POLICY_FILE": "/etc/strangler/rollout-policy.yaml",
    "REDIS_URL": "redis://redis:6379/0",
    "SECRET_KEY": "${MONOLITH_SECRET_KEY}",
    "INTERNAL_IDENTITY_KEY": "${INTERNAL_IDENTITY_KEY}",
    "INTERNAL_PORT": str(internal(8000)),
    "PAYMENT_API_KEY": "${PAYMENT_API_KEY}",
    "PAYMENT_WEBHOOK_SECRET": "${PAYMENT_WEBHOOK_SECRET}",
    "SHADOW_RULES": "/etc/strangler/shadow-rules.yaml",
}
# the monolith's processes call services on their internal port, each only the ones it needs
ACL_PRODUCT = {"PRODUCT_SERVICE_URL": f"http://product-service:{internal(8101)}"}
SYNC_USERS = {"AUTH_SERVICE_URL": f"http://auth-service:{internal(8102)}"}
MONOLITH_CONFIG = {
    "/etc/strangler/shadow-rules.yaml": "shadow/rules.yaml",
    "/etc/strangler/gates.yaml": "strangler_proxy/gates.yaml",
    "/etc/strangler/rollout-policy.yaml": "control/rollout/policy.yaml",
}

MONOLITH = Component(
    "monolith",
    database=TECHSTORE_DB,
    env=MONOLITH_ENV,
    migrate=(
        _manage("migrate", "--noinput"),
        _manage("migrate", "--database", "shadow", "--noinput"),
        _manage("migrate", "--database", "control", "--noinput"),
    ),
    processes=(
        Process(
            "monolith",
            (
                "gunicorn",
                "legacy_monolith.wsgi",
                "-b",
                "0.0.0.0:8000",
                "-b",
                f"0.0.0.0:{internal(8000)}",
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "4",
            ),
            port=8000,
            internal_port=internal(8000),
            probe=http_probe(8000),
            env={
                **ACL_PRODUCT,
                "PAYMENT_CARDINAL_URL": "http://sandbox:8900/cardinal",
                "PAYMENT_NORTHPAY_URL": "http://sandbox:8900/northpay",
            },
            depends=("redis", "rabbitmq", "sandbox", "unleash"),
            replicas=2,
            kind="http",
            hpa=True,
            config=MONOLITH_CONFIG,
            resources=("250m", "384Mi", "2", "768Mi"),
        ),
        # the monolith's trigger-written outbox relayed to RabbitMQ (catalog.* events)
        Process(
            "sync-products-follow",
            _manage(
                "sync",
                "products",
                "follow",
                "--no-progress",
                "--metrics-port",
                "9108",
                "--metrics-host",
                "0.0.0.0",
            ),
            metrics_port=9108,
            probe=Probe(port=9108, ready="/metrics", live="/metrics"),
            env=ACL_PRODUCT,  # status and verify read the service's side
            depends=("rabbitmq", "product-consumer-catalog"),
        ),
        # users changed in the monolith copied to the Auth service's /internal/v1/import/users
        Process(
            "sync-users-follow",
            _manage("sync", "users", "follow"),
            probe=worker_probe("DATABASE_URL", "AUTH_SERVICE_URL"),
            env={**SYNC_USERS, **EVENT_CONSUMER},
            depends=("auth-service",),
        ),
        # the Order service's order.* events applied to the monolith's tables (orders created there stay
        # visible on the monolith while the write route is partly rolled out)
        Process(
            "sync-orders-follow",
            _manage("sync", "orders", "follow"),
            probe=worker_probe("DATABASE_URL", "BROKER_URL"),
            env={"ORDER_SERVICE_URL": f"http://order-service:{internal(8103)}", **EVENT_CONSUMER},
            depends=("rabbitmq", "order-service"),
        ),
        # payments both ways: the service's payment.synced events into the monolith, the monolith's changes
        # (refunds of service payments included) to the service's /internal/v1/import
        Process(
            "sync-payments-follow",
            _manage("sync", "payments", "follow"),
            probe=worker_probe("DATABASE_URL", "BROKER_URL", "PAYMENT_SERVICE_URL"),
            env={"PAYMENT_SERVICE_URL": f"http://payment-service:{internal(8104)}", **EVENT_CONSUMER},
            depends=("rabbitmq", "payment-service"),
        ),
        # the rollout controller: steps routes up, judges target vs legacy from the gateway's figures
        Process(
            "rollout-controller",
            _manage("rollout", "run", "--no-progress", *_metrics_on(9110)),
            metrics_port=9110,  # strangler_rollout_rollbacks_total (the RolloutRolledBack alert)
            probe=worker_probe("CONTROL_DATABASE_URL", "GATEWAY_METRICS_URLS"),
            env={"GATEWAY_METRICS_URLS": "http://gateway:9464/metrics"},
            depends=("gateway",),
            config=MONOLITH_CONFIG,
        ),
        # the shadow comparator: pairs the gateway publishes on strangler.shadow
        Process(
            "shadow-worker",
            _manage("shadow", "worker", "--no-progress", *_metrics_on(9111)),
            metrics_port=9111,  # strangler_shadow_pairs_compared_total (the shadow match panel and alert)
            probe=worker_probe("SHADOW_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
            config=MONOLITH_CONFIG,
        ),
    ),
)
