"""Fresh values for every secret of the registry, for compose's `.env` or a Kubernetes Secret manifest.

Nothing here is committed: `python -m deploy secrets` writes `.env` (ignored by git) once and keeps the
values already there, so re-running it never rotates a database password under a live volume.
"""

from __future__ import annotations

import base64
import json
import secrets as random
from dataclasses import dataclass
from pathlib import Path

from deploy import topology as t


def new_value(secret: t.Secret) -> str:
    if secret.kind == "password":
        return random.token_urlsafe(24)
    if secret.kind == "token":
        return random.token_urlsafe(48)
    if secret.kind == "fernet32":
        return base64.urlsafe_b64encode(random.token_bytes(32)).rstrip(b"=").decode()
    if secret.kind == "rsa-pem":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    if secret.kind == "unleash-admin":
        return f"*:*.{random.token_hex(24)}"
    if secret.kind == "unleash-client":
        return f"default:development.{random.token_hex(24)}"
    raise ValueError(f"unknown secret kind {secret.kind!r}")


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines and KEY="multi-line value" (JSON string escapes), as written by format_env_file."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        values[key.strip()] = json.loads(raw) if raw.startswith('"') else raw
    return values


def format_env_file(values: dict[str, str]) -> str:
    lines = ["# Secrets of the compose profile, made by `python -m deploy secrets`. Never commit this file."]
    for key, value in values.items():
        lines.append(f"{key}={json.dumps(value)}" if ("\n" in value or " " in value) else f"{key}={value}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SecretsResult:
    path: str
    created: list[str]
    kept: list[str]


def secrets_write(path: Path) -> SecretsResult:
    existing = read_env_file(path)
    values: dict[str, str] = {}
    created, kept = [], []
    for secret in t.SECRETS:
        if existing.get(secret.name):
            values[secret.name] = existing[secret.name]
            kept.append(secret.name)
        else:
            values[secret.name] = new_value(secret)
            created.append(secret.name)
    for key, value in existing.items():  # the user's own additions stay
        values.setdefault(key, value)
    path.write_text(format_env_file(values))
    path.chmod(0o600)
    return SecretsResult(str(path), created, kept)


def k8s_secret_manifest(values: dict[str, str]) -> dict:
    """The Secret the manifests reference (to pipe into `kubectl apply -f -`; never into the repository)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "strangler-secrets"},
        "type": "Opaque",
        "stringData": {s.name: values[s.name] for s in t.SECRETS},
    }
