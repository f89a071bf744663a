"""Every process of the system, described once: docker-compose.yml and the kustomize base are generated from
this registry (`make deploy-gen`), and tests/deploy/ checks it against the code.

Adding a service is one `Component` (its database, its processes, its environment) in a module of its own
under deploy/components/, listed in COMPONENTS below; what components share (the secrets, the broker, the
flags, how a command is spelled) is in deploy/common.py, the datastores in deploy/infra.py. Environment
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

from deploy.common import (
    AUDIT_CHECKPOINTS,
    BROKER_URL,
    FLAGS,
    ISSUER,
    PUBLIC_URL,
    SECRET_NAMES,
    SECRETS,
    SHARED,
    UNLEASH_URL,
)
from deploy.components.auth import AUTH
from deploy.components.edge import GATEWAY, SANDBOX
from deploy.components.monolith import ACL_PRODUCT, MONOLITH, MONOLITH_CONFIG, MONOLITH_ENV, SYNC_USERS
from deploy.components.notification import NOTIFICATION, NOTIFICATION_SENDERS
from deploy.components.order import ORDER
from deploy.components.payment import PAYMENT
from deploy.components.product import PRODUCT, PRODUCT_ENV
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
    _url_reaches,
    http_probe,
    internal,
    secrets_used,
    worker_probe,
)

# The registry's names stay importable from here, wherever they are defined (deploy/common.py,
# deploy/infra.py, deploy/model.py, deploy/components/).
__all__ = [
    "ACL_PRODUCT", "AUDIT_CHECKPOINTS", "AUTH", "AUTH_DB", "BACKUP", "BOOTSTRAP", "BOOTSTRAP_FOR",
    "BROKER_URL", "COMPONENTS", "CONTROL_DB", "DATABASES", "DATABASE_OWNERS", "DATASTORES", "FLAGS",
    "GATEWAY", "INTERNAL_PORT_OFFSET", "ISSUER", "MONOLITH", "MONOLITH_CONFIG", "MONOLITH_ENV",
    "NOTIFICATION", "NOTIFICATION_DB", "NOTIFICATION_SENDERS", "OBSERVABILITY", "ORDER", "ORDER_DB",
    "OUR_IMAGE", "PAYMENT", "PAYMENT_DB", "PRODUCT", "PRODUCT_DB", "PRODUCT_ENV", "PUBLIC_URL", "SANDBOX",
    "SECRETS", "SECRET_NAMES", "SECRET_REF", "SHADOW_DB", "SHARED", "SMTP_RELAY_HOST", "SMTP_RELAY_PORT",
    "SMTP_RELAY_USER", "SYNC_USERS", "TECHSTORE_DB", "UNLEASH_DB", "UNLEASH_URL", "Component", "Database",
    "Placed", "Probe", "Process", "Reach", "Secret", "all_processes", "by_name", "http_probe", "internal",
    "our_processes", "reaches", "secrets_used", "worker_probe",
]  # fmt: skip

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
        smtp = _smtp_reach(var, env)
        for target in _url_reaches(value) or ([smtp] if smtp else []):
            if target[0] in names and target[0] != placed.name:
                reach = Reach(target[0], target[1], var)
                if all((r.target, r.port) != (reach.target, reach.port) for r in found):
                    found.append(reach)
    return found
