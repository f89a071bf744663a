"""DEV-ONLY key material of the OIDC side: the RSA key that signs id_tokens in the embedded profile."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization


def dev_rsa_key_pem(path) -> str:
    """DEV-ONLY: the OIDC RSA key of the embedded profile, generated once into `path` (mode 0600) so every
    process of the service signs id_tokens with the same key."""
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric import rsa

    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        try:
            os.link(tmp, path)  # create-once: a concurrent first start keeps the key that landed first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text(encoding="ascii")
