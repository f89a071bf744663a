"""The datastores every deployment runs (one PostgreSQL server per database, Redis, RabbitMQ, MongoDB, a real
Unleash server, Mailpit as the SMTP relay) and, in compose only, the observability stack (Prometheus, Loki and
its agent, Grafana)."""

from __future__ import annotations

from deploy.model import Database, Probe, Process

TECHSTORE_DB = Database("techstore", "postgres-techstore", "TECHSTORE_DB_PASSWORD")
SHADOW_DB = Database("shadow", "postgres-shadow", "SHADOW_DB_PASSWORD")
PRODUCT_DB = Database("product", "postgres-product", "PRODUCT_DB_PASSWORD")
AUTH_DB = Database("auth", "postgres-auth", "AUTH_DB_PASSWORD")
ORDER_DB = Database("order", "postgres-order", "ORDER_DB_PASSWORD")
PAYMENT_DB = Database("payment", "postgres-payment", "PAYMENT_DB_PASSWORD")
NOTIFICATION_DB = Database("notification", "postgres-notification", "NOTIFICATION_DB_PASSWORD")
CONTROL_DB = Database("control", "postgres-control", "CONTROL_DB_PASSWORD")
UNLEASH_DB = Database("unleash", "postgres-unleash", "UNLEASH_DB_PASSWORD")
DATABASES: tuple[Database, ...] = (
    TECHSTORE_DB, SHADOW_DB, CONTROL_DB, PRODUCT_DB, AUTH_DB, ORDER_DB, PAYMENT_DB, NOTIFICATION_DB,
    UNLEASH_DB,
)  # fmt: skip

# ------------------------------------------------------------------------------------------- datastores

SMTP_RELAY_HOST, SMTP_RELAY_PORT, SMTP_RELAY_USER = "mailpit", 1025, "notifications"


def _postgres(db: Database) -> Process:
    return Process(
        db.host,
        image="postgres:15.10",
        port=5432,
        kind="datastore",
        env={
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}",
            "POSTGRES_DB": db.name,
            "APP_DB_PASSWORD": f"${{{db.password_secret}}}",
            "PGDATA": "/var/lib/postgresql/data/pgdata",
        },
        probe=Probe(command=("pg_isready", "-U", "postgres", "-d", db.name)),
        volumes={"/var/lib/postgresql/data": f"pgdata-{db.name}"},
        # creates the owner role APP_DB_PASSWORD names, owning the database (first start only)
        config={"/docker-entrypoint-initdb.d/10-owner-role.sh": "deploy/postgres/10-owner-role.sh"},
        writable=("/var/run/postgresql", "/tmp"),
        run_as=999,
        resources=("250m", "512Mi", "2", "1Gi"),
    )


DATASTORES: tuple[Process, ...] = (
    *(_postgres(db) for db in DATABASES),
    Process(
        "redis",
        ("redis-server", "--save", "", "--appendonly", "no"),
        image="redis:7.4",
        port=6379,
        kind="datastore",
        probe=Probe(command=("redis-cli", "ping")),
        writable=("/data",),
        run_as=999,
        resources=("100m", "128Mi", "1", "512Mi"),
    ),
    Process(
        "rabbitmq",
        image="rabbitmq:3.13-management",
        port=5672,
        metrics_port=15692,  # rabbitmq_prometheus (queue depths: the DLQ alert)
        kind="datastore",
        env={
            "RABBITMQ_DEFAULT_USER": "strangler",
            "RABBITMQ_DEFAULT_PASS": "${RABBITMQ_PASSWORD}",
        },
        probe=Probe(command=("rabbitmq-diagnostics", "-q", "ping")),
        volumes={"/var/lib/rabbitmq": "rabbitmq-data"},
        config={"/etc/rabbitmq/enabled_plugins": "deploy/rabbitmq/enabled_plugins"},
        writable=("/tmp",),
        run_as=999,
        resources=("250m", "512Mi", "2", "1Gi"),
    ),
    Process(
        "mongo",
        image="mongo:7.0",
        port=27017,
        kind="datastore",
        probe=Probe(command=("mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok")),
        volumes={"/data/db": "mongo-data"},
        writable=("/tmp", "/data/configdb"),
        run_as=999,
        resources=("250m", "512Mi", "2", "1Gi"),
    ),
    Process(
        "unleash",
        image="unleashorg/unleash-server:8.2.0",
        port=4242,
        kind="datastore",
        env={
            "DATABASE_URL": UNLEASH_DB.url(),
            "DATABASE_SSL": "false",
            "INIT_ADMIN_API_TOKENS": "${UNLEASH_ADMIN_TOKEN}",
            "INIT_CLIENT_API_TOKENS": "${UNLEASH_CLIENT_TOKEN}",
            "SEND_TELEMETRY": "false",
            "CHECK_VERSION": "false",
            "LOG_LEVEL": "warn",
        },
        probe=Probe(port=4242, ready="/health", live="/health"),
        depends=("postgres-unleash",),
        run_as=1000,
        resources=("100m", "256Mi", "1", "512Mi"),
    ),
    # The SMTP relay the Notification service sends email through: Mailpit, which keeps every message instead
    # of delivering it (its web UI and API on 8025 inside the network). Production points
    # NOTIFICATION_SMTP_HOST/_PORT/_USER/_STARTTLS at its own relay (an overlay patch) and drops this one.
    # The service logs in like at a real relay: the user and password below (plain AUTH: no TLS here).
    Process(
        SMTP_RELAY_HOST,
        image="axllent/mailpit:v1.29.7",
        port=SMTP_RELAY_PORT,
        kind="datastore",
        env={
            "MP_SMTP_AUTH": f"{SMTP_RELAY_USER}:${{NOTIFICATION_SMTP_PASSWORD}}",
            "MP_SMTP_AUTH_ALLOW_INSECURE": "true",
            "MP_MAX_MESSAGES": "5000",
        },
        probe=Probe(command=("/mailpit", "readyz")),
        writable=("/tmp",),
        run_as=1000,
        resources=("50m", "64Mi", "500m", "256Mi"),
    ),
)


# ------------------------------------------------------------------------------------------- observability
# Compose only: on Kubernetes the platform's Prometheus/Grafana/Loki scrape the pods' annotations.

OBSERVABILITY: tuple[Process, ...] = (
    Process(
        "prometheus",
        (
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            "--web.enable-lifecycle",
        ),
        image="prom/prometheus:v2.55.1",
        port=9090,
        kind="datastore",
        probe=Probe(port=9090, ready="/-/ready", live="/-/healthy"),
        volumes={"/prometheus": "prometheus-data"},
        config={
            "/etc/prometheus/prometheus.yml": "deploy/prometheus/prometheus.yml",
            "/etc/prometheus/alerts.yml": "deploy/prometheus/alerts.yml",
        },
        public=True,
        targets=("compose",),
    ),
    Process(
        "loki",
        ("-config.file=/etc/loki/loki.yaml",),
        image="grafana/loki:3.3.2",
        port=3100,
        kind="datastore",
        probe=Probe(port=3100, ready="/ready", live="/ready"),
        volumes={"/loki": "loki-data"},
        config={"/etc/loki/loki.yaml": "deploy/loki/loki.yaml"},
        targets=("compose",),
    ),
    # ships every container's JSON log lines to Loki (Docker's log files, discovered through its socket)
    Process(
        "alloy",
        (
            "run",
            "--server.http.listen-addr=0.0.0.0:12345",
            "--storage.path=/var/lib/alloy/data",
            "/etc/alloy/config.alloy",
        ),
        image="grafana/alloy:v1.5.1",
        port=12345,
        kind="datastore",
        probe=Probe(command=("bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/12345")),  # Ubuntu image: no wget
        config={
            "/etc/alloy/config.alloy": "deploy/alloy/config.alloy",
            "/var/run/docker.sock": "/var/run/docker.sock",
        },
        depends=("loki",),
        run_as=None,
        targets=("compose",),
    ),
    Process(
        "grafana",
        image="grafana/grafana:11.4.0",
        port=3000,
        kind="datastore",
        env={
            "GF_SECURITY_ADMIN_USER": "admin",
            "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD}",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
        },
        probe=Probe(port=3000, ready="/api/health", live="/api/health"),
        volumes={"/var/lib/grafana": "grafana-data"},
        config={
            "/etc/grafana/provisioning": "deploy/grafana/provisioning",
            "/var/lib/grafana/dashboards": "deploy/grafana/dashboards",
        },
        depends=("prometheus", "loki"),
        public=True,
        targets=("compose",),
    ),
)
