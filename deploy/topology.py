"""Every process of the system, described once: docker-compose.yml and the kustomize base are generated from
this registry (`make deploy-gen`), and tests/deploy/ checks it against the code.

Adding a service is one `Component` entry (its database, its processes, its environment). Environment
values are templates: `${NAME}` names a secret of SECRETS (compose reads it from `.env`, Kubernetes from the
Secret `strangler-secrets`); nothing else in a value is a variable. Which databases, /internal APIs and
public ports a process may reach is read from the URLs in its environment (see `reaches`), so the
NetworkPolicies and the compose networks follow the configuration instead of a second list.

Ports: a service's public port (the gateway's upstream) serves its API; its internal port (public + 1000)
serves the same application plus /internal/ and /metrics (chassis.ports), and only the callers that name it
in their environment (sync jobs, saga participants, the ACL client) and Prometheus may reach it.
"""

from __future__ import annotations

from collections.abc import Iterator

from deploy.infra import (
    AUTH_DB,
    CONTROL_DB,
    DATABASES,
    DATASTORES,
    NOTIFICATION_DB,
    OBSERVABILITY,
    ORDER_DB,
    PAYMENT_DB,
    PRODUCT_DB,
    SHADOW_DB,
    SMTP_RELAY_HOST,
    SMTP_RELAY_PORT,
    SMTP_RELAY_USER,
    TECHSTORE_DB,
    UNLEASH_DB,
)
from deploy.model import (
    INTERNAL_PORT_OFFSET,
    OUR_IMAGE,
    SECRET_REF,
    Component,
    Database,
    Placed,
    Probe,
    Process,
    Reach,
    Secret,
    _frozen,
    _smtp_reach,
    _url_reach,
    http_probe,
    internal,
    secrets_used,
    worker_probe,
)

__all__ = [
    "AUTH_DB", "COMPONENTS", "DATABASES", "DATASTORES", "INTERNAL_PORT_OFFSET", "OBSERVABILITY", "OUR_IMAGE",
    "PRODUCT_DB", "SECRETS", "SECRET_NAMES", "SECRET_REF", "SHADOW_DB", "TECHSTORE_DB", "UNLEASH_DB",
    "Component", "Database", "Placed", "Probe", "Process", "Reach", "Secret", "all_processes", "by_name",
    "internal", "our_processes", "reaches", "secrets_used", "worker_probe",
]  # fmt: skip

# ------------------------------------------------------------------------------------------- secrets

SECRETS: tuple[Secret, ...] = (
    Secret("POSTGRES_PASSWORD", "password", "superuser of every PostgreSQL server (backups, bootstrap)"),
    Secret("TECHSTORE_DB_PASSWORD", "password", "the monolith's database role"),
    Secret("SHADOW_DB_PASSWORD", "password", "the shadow comparator's database role"),
    Secret("CONTROL_DB_PASSWORD", "password", "the rollout controller's database role"),
    Secret("PRODUCT_DB_PASSWORD", "password", "the Product service's database role"),
    Secret("AUTH_DB_PASSWORD", "password", "the Auth service's database role"),
    Secret("ORDER_DB_PASSWORD", "password", "the Order service's database role"),
    Secret("PAYMENT_DB_PASSWORD", "password", "the Payment service's database role"),
    Secret("NOTIFICATION_DB_PASSWORD", "password", "the Notification service's database role"),
    Secret("UNLEASH_DB_PASSWORD", "password", "the Unleash server's database role"),
    Secret("RABBITMQ_PASSWORD", "password", "the broker user every process connects as"),
    Secret("MONOLITH_SECRET_KEY", "token", "the monolith's SECRET_KEY"),
    Secret("PRODUCT_SECRET_KEY", "token", "the Product service's SECRET_KEY (signs v2 cursors)"),
    Secret("AUTH_SECRET_KEY", "token", "the Auth service's SECRET_KEY"),
    Secret("ORDER_SECRET_KEY", "token", "the Order service's SECRET_KEY"),
    Secret("PAYMENT_SECRET_KEY", "token", "the Payment service's SECRET_KEY"),
    Secret("NOTIFICATION_SECRET_KEY", "token", "the Notification service's SECRET_KEY"),
    Secret(
        "NOTIFICATION_PROVIDER_API_KEY",
        "token",
        "the key the Notification service presents to push/SMS providers",
    ),
    Secret(
        "NOTIFICATION_RECEIPT_SECRET", "token", "HMAC secret of the push/SMS providers' delivery receipts"
    ),
    Secret("NOTIFICATION_SMTP_PASSWORD", "password", "the Notification service's login at the SMTP relay"),
    Secret("PAYMENT_KEY_ENCRYPTION_KEY", "fernet32", "AES-256-GCM key of the Payment service's card fields"),
    Secret("PAYMENT_TEST_API_KEY", "token", "the key of the card gateways' test mode (shadowed charges)"),
    Secret("INTERNAL_API_TOKEN", "token", "bearer token of every /internal/v1 API"),
    Secret(
        "INTERNAL_IDENTITY_KEY", "token", "HMAC key of X-Strangler-Identity (gateway, monolith, services)"
    ),
    Secret("SHADOW_KEY_SECRET", "token", "HMAC key of mirrored writes' Idempotency-Key"),
    Secret("TESTER_OVERRIDE_KEY", "token", "HMAC key of tester overrides (the gateway, rollout override)"),
    Secret("PAYMENT_API_KEY", "token", "the key the monolith presents to the card gateways (the sandbox)"),
    Secret("PAYMENT_WEBHOOK_SECRET", "token", "HMAC secret of the card gateways' webhooks"),
    Secret("AUTH_KEY_ENCRYPTION_KEY", "fernet32", "AES-256-GCM key sealing the Auth service's signing keys"),
    Secret("AUTH_OIDC_RSA_PRIVATE_KEY", "rsa-pem", "RS256 key of OIDC id_tokens"),
    Secret("FLAGS_AUDIT_KEY", "token", "HMAC key of the flags audit chain"),
    Secret("GATEWAY_AUDIT_KEY", "token", "HMAC key of the gateway's audit chains"),
    Secret("AUTH_AUDIT_KEY", "token", "HMAC key of the Auth service's audit chain"),
    Secret("PAYMENT_AUDIT_KEY", "token", "HMAC key of the Payment service's audit trail"),
    Secret("GRAFANA_ADMIN_PASSWORD", "password", "Grafana's admin user (compose)"),
    Secret("UNLEASH_ADMIN_TOKEN", "unleash-admin", "Unleash admin API token (flags commands, bootstrap)"),
    Secret("UNLEASH_CLIENT_TOKEN", "unleash-client", "Unleash client token the flags facade polls with"),
)
SECRET_NAMES = frozenset(s.name for s in SECRETS)

# ------------------------------------------------------------------------------------------- shared values

BROKER_URL = "amqp://strangler:${RABBITMQ_PASSWORD}@rabbitmq:5672//"
UNLEASH_URL = "http://unleash:4242/api"
PUBLIC_URL = "https://shop.example"  # what users type; the gateway's address behind the platform's edge
SHARED = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "*",
    "LOG_LEVEL": "INFO",
    "BROKER_URL": BROKER_URL,
    "INTERNAL_API_TOKEN": "${INTERNAL_API_TOKEN}",
}
ISSUER = {"AUTH_ISSUER": PUBLIC_URL, "AUTH_AUDIENCE": "techstore"}
# Audit checkpoints go to Redis, away from the logs they anchor (the Auth and Payment chains keep theirs in a
# table of their own database, the default).
AUDIT_CHECKPOINTS = "redis://redis:6379/6"
FLAGS = {
    "UNLEASH_URL": UNLEASH_URL,
    "UNLEASH_CLIENT_TOKEN": "${UNLEASH_CLIENT_TOKEN}",
    "UNLEASH_ADMIN_TOKEN": "${UNLEASH_ADMIN_TOKEN}",
    "FLAGS_AUDIT_KEY": "${FLAGS_AUDIT_KEY}",
    "FLAGS_AUDIT_CHECKPOINTS": AUDIT_CHECKPOINTS,
}


def _serve(package: str, port: int, workers: int = 2) -> tuple[str, ...]:
    return (
        "python", "-m", package, "serve", "--bind", f"0.0.0.0:{port}", "--workers", str(workers),
        "--threads", "4", "--", "--bind", f"0.0.0.0:{internal(port)}",
    )  # fmt: skip


def _manage(*args: str) -> tuple[str, ...]:
    return ("python", "manage.py", *args)


def _service(package: str, *args: str) -> tuple[str, ...]:
    return ("python", "-m", package, *args)


def _metrics_on(port: int) -> tuple[str, ...]:
    """A worker's --metrics-port, on every address of its container (Prometheus scrapes it)."""
    return ("--metrics-port", str(port), "--metrics-host", "0.0.0.0")


# ------------------------------------------------------------------------------------------- components


MONOLITH_ENV = {
    **SHARED,
    **FLAGS,
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
            env=SYNC_USERS,
            depends=("auth-service",),
        ),
        # the Order service's order.* events applied to the monolith's tables (orders created there stay
        # visible on the monolith while the write route is partly rolled out)
        Process(
            "sync-orders-follow",
            _manage("sync", "orders", "follow"),
            probe=worker_probe("DATABASE_URL", "BROKER_URL"),
            env={"ORDER_SERVICE_URL": f"http://order-service:{internal(8103)}"},
            depends=("rabbitmq", "order-service"),
        ),
        # payments both ways: the service's payment.synced events into the monolith, the monolith's changes
        # (refunds of service payments included) to the service's /internal/v1/import
        Process(
            "sync-payments-follow",
            _manage("sync", "payments", "follow"),
            probe=worker_probe("DATABASE_URL", "BROKER_URL", "PAYMENT_SERVICE_URL"),
            env={"PAYMENT_SERVICE_URL": f"http://payment-service:{internal(8104)}"},
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

PRODUCT_ENV = {
    **SHARED,
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
        ),
        Process(
            "product-consumer-stock",
            _service("extracted.product_service", "consume", "product_service.stock"),
            probe=worker_probe("PRODUCT_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
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

AUTH = Component(
    "auth",
    database=AUTH_DB,
    env={
        **SHARED,
        **ISSUER,
        "AUTH_DATABASE_URL": AUTH_DB.url(),
        "REDIS_URL": "redis://redis:6379/2",
        "SECRET_KEY": "${AUTH_SECRET_KEY}",
        "INTERNAL_PORT": str(internal(8102)),
        "AUTH_KEY_ENCRYPTION_KEY": "${AUTH_KEY_ENCRYPTION_KEY}",
        "AUTH_OIDC_RSA_PRIVATE_KEY": "${AUTH_OIDC_RSA_PRIVATE_KEY}",
        "AUTH_AUDIT_KEY": "${AUTH_AUDIT_KEY}",
        "AUTH_LOGIN_CLIENT_ID": "web",  # created by the bootstrap job (deploy/bootstrap.py)
        "MONOLITH_URL": f"http://monolith:{internal(8000)}",  # the token exchange asks the monolith
    },
    migrate=(_service("extracted.auth_service", "migrate", "--noinput"),),
    processes=(
        Process(
            "auth-service",
            _serve("extracted.auth_service", 8102),
            port=8102,
            internal_port=internal(8102),
            probe=http_probe(8102),
            depends=("rabbitmq", "redis"),
            replicas=2,
            kind="http",
            hpa=True,
        ),
    ),
)


def _celery(
    package: str,
    database_env: str,
    worker_env: dict[str, str] | None = None,
    worker_depends: tuple[str, ...] = (),
) -> tuple[Process, ...]:
    """A service's Celery worker and beat (the chassis' `worker` and `beat` commands); `worker_env` is what
    only the worker needs (the providers its tasks call)."""
    name = package.rsplit(".", 1)[1].replace("_service", "")
    return (
        Process(
            f"{name}-worker",
            _service(package, "worker", "--concurrency", "2", "--pool", "prefork"),
            probe=worker_probe(database_env, "BROKER_URL"),
            env=_frozen(worker_env),
            depends=("rabbitmq", *worker_depends),
        ),
        # one beat per service (replicas 1; its PodDisruptionBudget lets it move)
        Process(
            f"{name}-beat",
            _service(package, "beat"),
            probe=worker_probe("BROKER_URL"),
            depends=("rabbitmq",),
        ),
    )


ORDER = Component(
    "order",
    database=ORDER_DB,
    env={
        **SHARED,
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
        ),
        Process(
            "order-consumer-orchestrator",
            _service("extracted.order_service", "consume", "order_service.saga_orchestrator"),
            probe=worker_probe("ORDER_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
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

PAYMENT = Component(
    "payment",
    database=PAYMENT_DB,
    env={
        **SHARED,
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
# tasks): the SMTP relay (Mailpit here, see deploy/infra.py) and the sandbox's push and SMS APIs.
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
        ),
        # replayed dead letters (`events dlq replay`): a failed row queued again
        Process(
            "notification-consumer-deliveries",
            _service("extracted.notification_service", "consume", "notification_service.deliveries"),
            probe=worker_probe("NOTIFICATION_DATABASE_URL", "BROKER_URL"),
            depends=("rabbitmq",),
        ),
        *_celery(
            "extracted.notification_service",
            "NOTIFICATION_DATABASE_URL",
            worker_env=NOTIFICATION_SENDERS,
            worker_depends=(SMTP_RELAY_HOST, "sandbox"),
        ),
    ),
)

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
        # push and SMS: the Notification service's key and receipt secret; receipts go to the service itself
        # (the gateway routes no /api/v2/notifications yet)
        "SANDBOX_MESSAGING_API_KEY": "${NOTIFICATION_PROVIDER_API_KEY}",
        "SANDBOX_RECEIPT_SECRET": "${NOTIFICATION_RECEIPT_SECRET}",
        "SANDBOX_RECEIPT_URL": "http://notification-service:8105/api/v2/notifications/receipts/{provider}",
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

COMPONENTS: tuple[Component, ...] = (MONOLITH, PRODUCT, AUTH, ORDER, PAYMENT, NOTIFICATION, GATEWAY, SANDBOX)
DATABASE_OWNERS = {
    "techstore": "monolith", "shadow": "monolith", "control": "monolith", "product": "product",
    "auth": "auth", "order": "order", "payment": "payment", "notification": "notification",
}  # fmt: skip


# ------------------------------------------------------------------------------------------- one-shot jobs

# Migrations, the OAuth client the login cutover mints for, the Unleash features, the seed (deploy/bootstrap).
# It renders each component's environment from the registry, so it holds only the secrets those need.
BOOTSTRAP_FOR = ("monolith", "product", "auth", "order", "payment", "notification")
BOOTSTRAP = Process(
    "bootstrap",
    ("python", "-m", "deploy.bootstrap", "--no-progress"),
    kind="job",
    env={
        **{
            name: f"${{{name}}}"
            for c in COMPONENTS
            if c.name in BOOTSTRAP_FOR
            for name in secrets_used(c.env)
        },
        "BOOTSTRAP_SEED": "--users 50 --products 1000 --orders 200 --seed 42",
    },
    depends=(*tuple(db.host for db in DATABASES), "rabbitmq", "unleash", "mongo"),
    config=MONOLITH_CONFIG,
    resources=("250m", "384Mi", "2", "768Mi"),
)

BACKUP = Process(
    "backup",
    ("python", "-m", "deploy.backup", "run", "--dir", "/backups", "--keep-days", "7", "--keep", "14"),
    kind="cron",
    schedule="17 2 * * *",
    every="24h",
    env={
        **{f"BACKUP_{db.name.upper()}_URL": db.url() for db in DATABASES},
        "BACKUP_RABBITMQ_URL": "http://strangler:${RABBITMQ_PASSWORD}@rabbitmq:15672",
    },
    volumes={"/backups": "backups"},
    depends=(*tuple(db.host for db in DATABASES), "rabbitmq"),
)


# ------------------------------------------------------------------------------------------- views


def our_processes() -> Iterator[Placed]:
    for component in COMPONENTS:
        for process in component.processes:
            yield Placed(process, component.name, _frozen({**component.env, **process.env}))
    yield Placed(BOOTSTRAP, "bootstrap", BOOTSTRAP.env)
    yield Placed(BACKUP, "backup", BACKUP.env)


def all_processes() -> Iterator[Placed]:
    yield from our_processes()
    for store in (*DATASTORES, *OBSERVABILITY):
        yield Placed(store, "datastore", store.env)


def by_name() -> dict[str, Placed]:
    return {placed.name: placed for placed in all_processes()}


def reaches(placed: Placed) -> list[Reach]:
    """Every (process, port) this process's environment names: its databases, broker, caches, the
    /internal or public APIs it calls. The NetworkPolicies allow exactly these (plus DNS)."""
    names = by_name()
    found: list[Reach] = []
    env = dict(placed.env)
    if placed.name == BOOTSTRAP.name:  # it runs the components' commands against their datastores only
        for component in COMPONENTS:
            if component.name in BOOTSTRAP_FOR:
                for var, value in component.env.items():
                    target = _url_reach(value)
                    if target and target[0] in names and names[target[0]].process.kind == "datastore":
                        env[f"{component.name}:{var}"] = value
    for var, value in env.items():
        target = _url_reach(value) or _smtp_reach(var, env)
        if target and target[0] in names and target[0] != placed.name:
            reach = Reach(target[0], target[1], var)
            if all((r.target, r.port) != (reach.target, reach.port) for r in found):
                found.append(reach)
    return found
