"""The Auth service's signing key store: ES256 keys in the auth database, private halves sealed with
AES-256-GCM under AUTH_KEY_ENCRYPTION_KEY; a chassis keyring (chassis/keyring.py: states, rotation with an
overlap, JWKS) over the SigningKey table, every rotation in the audit chain.

`keys_rotate` makes a new active key; the old one verifies for AUTH_KEY_ROTATION_OVERLAP_SECONDS (default:
the access token lifetime, so every token it signed can still be checked until it expires).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from chassis.keyring import Keyring, Rotation, SigningMaterial, _private_cache, key_state

from .audit import Event, audit_record
from .models import SigningKey

__all__ = [
    "Rotation",
    "SigningMaterial",
    "_private_cache",
    "jwks",
    "key_state",
    "keys_rotate",
    "signing_key_active",
    "verifying_public_key",
]

KEYRING = Keyring(
    SigningKey,
    encryption_key=lambda: settings.AUTH_KEY_ENCRYPTION_KEY,
    overlap_seconds=lambda: settings.AUTH_KEY_ROTATION_OVERLAP_SECONDS,
    on_rotated=lambda data: audit_record(event=Event.KEYS_ROTATED, data=data),
)
_unseal = KEYRING._unseal


def keys_rotate(*, overlap_seconds: int | None = None) -> Rotation:
    return KEYRING.rotate(overlap_seconds=overlap_seconds)


def signing_key_active() -> SigningMaterial:
    return KEYRING.active()


def verifying_public_key(kid: str) -> ec.EllipticCurvePublicKey | None:
    """The public key of `kid` if it still verifies (the auth service's own resource endpoints)."""
    return KEYRING.verifying_public_key(kid)


def jwks() -> dict:
    return KEYRING.jwks()
