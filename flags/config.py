"""Flags configuration, read from the environment in one place (no Django needed: the gateway uses it)."""

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flags.errors import FlagsError

REPO_DIR = Path(__file__).resolve().parent.parent
BOOTSTRAP_FILE = Path(__file__).resolve().parent / "bootstrap" / "features.json"


def default_actor() -> str:
    """`$USER@host`: who an audit entry names when no --actor is given."""
    try:
        user = os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise FlagsError(
            "invalid_configuration", f"{name} must be a number of seconds, got {raw!r}"
        ) from None
    if not value > 0:
        raise FlagsError("invalid_configuration", f"{name} must be greater than 0, got {raw!r}")
    return value


def environment_of_token(token: str) -> str | None:
    """Unleash API tokens read `<project>:<environment>.<secret>`; the environment, if the token says."""
    head, dot, _secret = token.partition(".")
    _project, colon, environment = head.partition(":")
    return environment if dot and colon and environment and environment != "*" else None


@dataclass(frozen=True)
class FlagsConfig:
    """Where flags live: the flags file (default) or an Unleash server when `unleash_url` is set."""

    flags_file: Path
    bootstrap_file: Path = BOOTSTRAP_FILE
    audit_log: Path | None = None
    audit_key: str = ""  # FLAGS_AUDIT_KEY; "" = the development key (refused with DEBUG off)
    audit_checkpoints: str = ""  # FLAGS_AUDIT_CHECKPOINTS; "" = a file beside the log
    debug: bool = True
    unleash_url: str = ""
    client_token: str = ""
    admin_token: str = ""
    environment: str = "development"
    project: str = "default"
    app_name: str = "strangler"
    refresh_interval: float = 1.0
    file_poll_interval: float = 0.25
    request_timeout: float = 5.0

    @property
    def uses_server(self) -> bool:
        return bool(self.unleash_url)

    @property
    def api_url(self) -> str:
        """The server's API root, as Unleash SDKs take it (`http://unleash:4242/api`); given without
        `/api`, it is added."""
        url = self.unleash_url.rstrip("/")
        return url if url.endswith("/api") else f"{url}/api"

    @property
    def audit_path(self) -> Path:
        return self.audit_log or self.flags_file.with_name("flags-audit.log")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "FlagsConfig":
        env = os.environ if env is None else env
        var_dir = Path(env.get("STRANGLER_VAR_DIR") or REPO_DIR / "var")
        client_token = env.get("UNLEASH_CLIENT_TOKEN", "")
        return cls(
            flags_file=Path(env.get("FLAGS_FILE") or var_dir / "flags.json"),
            bootstrap_file=Path(env.get("FLAGS_BOOTSTRAP_FILE") or BOOTSTRAP_FILE),
            audit_log=Path(env.get("FLAGS_AUDIT_LOG") or var_dir / "flags-audit.log"),
            audit_key=env.get("FLAGS_AUDIT_KEY", ""),
            audit_checkpoints=env.get("FLAGS_AUDIT_CHECKPOINTS", ""),
            debug=env.get("DEBUG", "true").strip().lower() in {"1", "true", "yes", "on"},
            unleash_url=env.get("UNLEASH_URL", "").rstrip("/"),
            client_token=client_token,
            admin_token=env.get("UNLEASH_ADMIN_TOKEN", ""),
            environment=env.get("UNLEASH_ENVIRONMENT") or environment_of_token(client_token) or "development",
            project=env.get("UNLEASH_PROJECT") or "default",
            app_name=env.get("UNLEASH_APP_NAME") or "strangler",
            refresh_interval=_positive_float(env, "UNLEASH_REFRESH_INTERVAL", 1.0),
            file_poll_interval=_positive_float(env, "FLAGS_FILE_POLL_INTERVAL", 0.25),
        )
