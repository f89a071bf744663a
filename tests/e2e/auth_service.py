"""A REAL auth service for cross-process tests: its own throwaway PostgreSQL database, migrated with
`python -m extracted.auth_service migrate`, the first-party `web` client the cutover login mints for, and
gunicorn (`... serve`) on a free port."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from kernel.crypto import new_encryption_key
from legacy_monolith.demo.processes import ManagedProcess, free_port, service_manage, service_process
from legacy_monolith.demo.services import DEV_INTERNAL_API_TOKEN, throwaway_database

ISSUER = "https://auth.techstore.test"
AUDIENCE = "techstore"
REDIRECT_URI = "https://shop.techstore.test/callback"


@dataclass
class AuthService:
    url: str
    database_url: str
    env: dict[str, str]
    process: ManagedProcess
    web_client_id: str

    @property
    def token(self) -> str:
        return self.env["INTERNAL_API_TOKEN"]


@contextlib.contextmanager
def running_auth_service(*, var_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[AuthService]:
    with throwaway_database("auth_test") as database_url:
        full_env = {
            "AUTH_DATABASE_URL": database_url,
            "AUTH_ISSUER": ISSUER,
            "AUTH_AUDIENCE": AUDIENCE,
            "AUTH_KEY_ENCRYPTION_KEY": new_encryption_key(),
            "INTERNAL_API_TOKEN": DEV_INTERNAL_API_TOKEN,
            "STRANGLER_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus"),
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": "",
            "BROKER_URL": "",
            **(env or {}),
        }
        service_manage("auth_service", "migrate", "--noinput", "-v0", env=full_env)
        created = service_manage(
            "auth_service", "auth", "clients", "create", "web", "--grant", "authorization-code",
            "--redirect-uri", REDIRECT_URI, "--json", env=full_env,
        )  # fmt: skip
        client_id = json.loads(created.stdout)["client_id"]
        port = free_port()
        full_env["AUTH_LOGIN_CLIENT_ID"] = client_id
        process = service_process(
            "auth_service", port=port, env=full_env, workers=2, threads=4, log_path=var_dir / "auth.log"
        )
        process.start(timeout=60)
        try:
            yield AuthService(f"http://127.0.0.1:{port}", database_url, full_env, process, client_id)
        finally:
            process.stop()
