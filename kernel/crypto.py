"""Pure key material: ES256 (ECDSA P-256) signing keys, their JWKs, and AES-256-GCM sealing of secrets at
rest (the Auth service's private keys; any service's sensitive values). No Django, no project imports: the
gateway, the services and the tests use it as is."""

from __future__ import annotations

import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
SEALED_PREFIX = (
    "aesgcm1:"  # format version of a sealed private key: aesgcm1:<b64url(nonce || ciphertext+tag)>
)
NONCE_BYTES = 12


class KeyMaterialError(Exception):
    """A key encryption key or a sealed private key is unusable (wrong length, wrong key, tampered)."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_encryption_key(text: str) -> bytes:
    """AUTH_KEY_ENCRYPTION_KEY: 32 random bytes, base64url (padding optional)."""
    try:
        raw = b64url_decode(text.strip())
    except (ValueError, TypeError) as exc:
        raise KeyMaterialError(f"the key encryption key is not base64url: {exc}") from None
    if len(raw) != 32:
        raise KeyMaterialError(f"the key encryption key must be 32 bytes (AES-256), got {len(raw)}")
    return raw


def new_encryption_key() -> str:
    """A fresh AUTH_KEY_ENCRYPTION_KEY value."""
    return b64url(os.urandom(32))


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise KeyMaterialError("a signing key must be an EC P-256 private key")
    return key


def seal(plaintext: bytes, *, key: bytes, associated: str) -> str:
    """AES-256-GCM with a random 96-bit nonce; `associated` (the kid) is authenticated, so a sealed key
    copied onto another key's row does not open."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, associated.encode("utf-8"))
    return SEALED_PREFIX + b64url(nonce + sealed)


def unseal(text: str, *, key: bytes, associated: str) -> bytes:
    if not text.startswith(SEALED_PREFIX):
        raise KeyMaterialError("not a sealed key (unknown format)")
    raw = b64url_decode(text[len(SEALED_PREFIX) :])
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated.encode("utf-8"))
    except InvalidTag:
        raise KeyMaterialError(
            "the sealed private key does not open: wrong AUTH_KEY_ENCRYPTION_KEY or tampered"
        ) from None


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (kty, crv, x, y) of a P-256 key."""
    jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the key's kid, so a kid names exactly one key."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return b64url(hashlib.sha256(canonical).digest())


def jwk_for_jwks(jwk: dict[str, str], *, kid: str) -> dict[str, str]:
    """A JWKS entry: the public JWK with its kid, algorithm and use."""
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


def public_key_from_jwk(jwk: dict[str, str]) -> ec.EllipticCurvePublicKey:
    key = ECAlgorithm.from_jwk(json.dumps(jwk))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key


_ES256 = ECAlgorithm(ECAlgorithm.SHA256)


def es256_sign(key: ec.EllipticCurvePrivateKey, payload: bytes) -> str:
    """ES256 signature of `payload`: r||s (64 bytes) base64url, as in a JWS."""
    return b64url(_ES256.sign(payload, key))


def es256_verify(key: ec.EllipticCurvePublicKey, payload: bytes, signature: str) -> bool:
    """True when `signature` (r||s base64url) is `key`'s ES256 signature of `payload`."""
    try:
        raw = b64url_decode(signature)
    except (ValueError, TypeError):
        return False
    return _ES256.verify(payload, key, raw)
