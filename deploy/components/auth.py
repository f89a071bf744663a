"""The Auth service: its API on 8102 (internal 9102)."""

from __future__ import annotations

from deploy.common import ISSUER, LOCKOUT, SHARED, _serve, _service, signed_events
from deploy.infra import AUTH_DB
from deploy.model import Component, Process, http_probe, internal

AUTH = Component(
    "auth",
    database=AUTH_DB,
    env={
        **SHARED,
        **signed_events("auth"),
        **ISSUER,
        **LOCKOUT,
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
