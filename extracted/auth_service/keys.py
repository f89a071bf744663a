"""The signing key store: ES256 keys in the auth database, private halves sealed with AES-256-GCM.

States: `active` (the one key that signs; also verifies), `retiring` (verifies until `verify_until`,
the rotation's overlap, so tokens it signed stay valid until they expire), `retired` (neither).
`keys_rotate` makes a new active key; the JWKS lists every key that still verifies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kernel import crypto

from .audit import Event, audit_record
from .models import KeyState, SigningKey


@dataclass(frozen=True)
class SigningMaterial:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Rotation:
    """What `auth keys rotate` did."""

    new_kid: str
    retiring_kid: str | None
    verify_until: datetime | None
    retired: list[str]

    def to_dict(self) -> dict:
        until = self.verify_until.isoformat().replace("+00:00", "Z") if self.verify_until else None
        return {
            "new_kid": self.new_kid,
            "retiring_kid": self.retiring_kid,
            "verify_until": until,
            "retired": self.retired,
        }


_private_cache: dict[str, ec.EllipticCurvePrivateKey] = {}
_cache_lock = threading.Lock()


def _encryption_key() -> bytes:
    return crypto.parse_encryption_key(settings.AUTH_KEY_ENCRYPTION_KEY)


def _new_key_row(*, state: str) -> SigningKey:
    private_key = crypto.generate_private_key()
    jwk = crypto.public_jwk(private_key.public_key())
    kid = crypto.thumbprint(jwk)
    sealed = crypto.seal(crypto.private_key_pem(private_key), key=_encryption_key(), associated=kid)
    return SigningKey.objects.create(kid=kid, state=state, public_jwk=jwk, sealed_private_key=sealed)


def _retire_expired(now: datetime) -> list[str]:
    expired = list(
        SigningKey.objects.filter(state=KeyState.RETIRING, verify_until__lte=now).values_list(
            "kid", flat=True
        )
    )
    if expired:
        SigningKey.objects.filter(kid__in=expired).update(state=KeyState.RETIRED, retired_at=now)
    return expired


def keys_rotate(*, overlap_seconds: int | None = None) -> Rotation:
    """Make a new active key. The old active key keeps verifying for `overlap_seconds` (default: the
    access token lifetime, so every token it signed can still be checked until it expires)."""
    overlap = settings.AUTH_KEY_ROTATION_OVERLAP_SECONDS if overlap_seconds is None else overlap_seconds
    if overlap < 0:
        raise ValueError("the overlap cannot be negative")
    now = timezone.now()
    with transaction.atomic():
        current = SigningKey.objects.select_for_update().filter(state=KeyState.ACTIVE).first()
        verify_until = None
        if current is not None:
            verify_until = now + timedelta(seconds=overlap)
            current.state, current.verify_until = KeyState.RETIRING, verify_until
            current.save(update_fields=["state", "verify_until"])
        retired = _retire_expired(now)
        new = _new_key_row(state=KeyState.ACTIVE)
        rotation = Rotation(new.kid, current.kid if current else None, verify_until, retired)
        audit_record(event=Event.KEYS_ROTATED, data=rotation.to_dict())
    return rotation


def _unseal(row: SigningKey) -> ec.EllipticCurvePrivateKey:
    with _cache_lock:
        cached = _private_cache.get(row.kid)
    if cached is None:
        pem = crypto.unseal(row.sealed_private_key, key=_encryption_key(), associated=row.kid)
        cached = crypto.load_private_key(pem)
        with _cache_lock:
            _private_cache[row.kid] = cached
    return cached


def signing_key_active() -> SigningMaterial:
    """The key that signs now; the first one is made on first use (an empty store after install)."""
    row = SigningKey.objects.filter(state=KeyState.ACTIVE).first()
    if row is None:
        try:
            with transaction.atomic():
                row = _new_key_row(state=KeyState.ACTIVE)
                audit_record(event=Event.KEYS_ROTATED, data={"new_kid": row.kid, "first_key": True})
        except IntegrityError:  # another process made it first (one_active_signing_key)
            row = SigningKey.objects.get(state=KeyState.ACTIVE)
    return SigningMaterial(row.kid, _unseal(row))


def _verifying(now: datetime):
    return SigningKey.objects.filter(
        Q(state=KeyState.ACTIVE) | Q(state=KeyState.RETIRING, verify_until__gt=now)
    ).order_by("-created_at")


def key_state(row: SigningKey, now: datetime) -> str:
    """The state a key is in now: a retiring key past its overlap no longer verifies (it is stored as
    retired at the next rotation)."""
    if row.state == KeyState.RETIRING and row.verify_until is not None and row.verify_until <= now:
        return KeyState.RETIRED
    return row.state


def verifying_public_key(kid: str) -> ec.EllipticCurvePublicKey | None:
    """The public key of `kid` if it still verifies (the auth service's own resource endpoints)."""
    row = _verifying(timezone.now()).filter(kid=kid).first()
    return crypto.public_key_from_jwk(row.public_jwk) if row else None


def jwks() -> dict:
    """The JWKS of every key that verifies now: the active key first (made if the store is empty, so
    resource servers can fetch it before the first token), then retiring ones."""
    signing_key_active()
    return {"keys": [crypto.jwk_for_jwks(row.public_jwk, kid=row.kid) for row in _verifying(timezone.now())]}
