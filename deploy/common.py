"""What the registry's components share (deploy/topology.py): the secrets, declared once; the environment
every process of ours gets (broker, internal token, issuer, flags); and how their commands are spelled (a
service's `serve`, the monolith's `manage.py`, a service's Celery worker and beat)."""

from __future__ import annotations

from deploy.model import Process, Secret, _frozen, internal, worker_probe

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
    # one event-signing key per component that publishes events (chassis/event_keys.py): each seals its own
    *(
        Secret(
            f"{component.upper()}_EVENT_KEY_ENCRYPTION_KEY",
            "fernet32",
            f"AES-256-GCM key sealing the {component} component's event-signing keys",
        )
        for component in ("monolith", "product", "auth", "order", "payment", "notification")
    ),
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
    # X-Strangler-Identity's replay guard: one Redis database for every verifier, so a captured header is
    # refused by every process once it was used at one (chassis/identity.py)
    "IDENTITY_REPLAY_REDIS_URL": "redis://redis:6379/8",
}
ISSUER = {"AUTH_ISSUER": PUBLIC_URL, "AUTH_AUDIENCE": "techstore"}
# The failed-login lockout counters (chassis/lockout.py): the monolith's logins and the Auth service's count
# into one store, so moving route.auth.login resets nothing. The Auth service's Redis database.
LOCKOUT = {"AUTH_LOCKOUT_REDIS_URL": "redis://redis:6379/2"}
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


# Signed events (issue 20, README "Signed, checksummed events"): consumers enforce (a critical event unsigned,
# forged or from the wrong source, or any event without a digest, goes to the DLQ); they fetch the JWKS of
# every publisher of a critical type from its internal port (EVENT_CONSUMER: the NetworkPolicies let exactly
# the consumer processes reach those).
# deploy imports nothing of the project: tests/deploy checks these sources are contracts/event_trust.py's.
EVENT_KEYS_PATH = "/.well-known/event-keys.json"
CRITICAL_EVENT_PUBLISHERS = {  # event source -> (process, public port)
    "auth_service": ("auth-service", 8102),
    "order_service": ("order-service", 8103),
    "payment_service": ("payment-service", 8104),
}
EVENT_KEYS_URLS = ",".join(
    f"{source}=http://{process}:{internal(port)}{EVENT_KEYS_PATH}"
    for source, (process, port) in CRITICAL_EVENT_PUBLISHERS.items()
)


# only on the processes that consume events: the others need no path to the publishers
EVENT_CONSUMER = {"EVENT_KEYS_URLS": EVENT_KEYS_URLS}


def signed_events(component: str) -> dict[str, str]:
    """The signed-events environment of a component that publishes events (its relay signs them, its API
    serves the public keys) and consumes them (its consumer processes add EVENT_CONSUMER)."""
    return {
        "EVENT_SIGNATURES": "enforce",
        "EVENT_KEY_ENCRYPTION_KEY": f"${{{component.upper()}_EVENT_KEY_ENCRYPTION_KEY}}",
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
