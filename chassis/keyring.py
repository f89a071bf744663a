"""A store of ES256 signing keys in a service's database, private halves sealed with AES-256-GCM
(kernel.crypto), with rotation and an overlap: the Auth service's token keys and every service's
event-signing keys (chassis/event_keys.py) are two keyrings over two tables of the same shape.

States: `active` (the one key that signs; also verifies), `retiring` (verifies until `verify_until`, the
rotation's overlap, so what it signed stays verifiable), `retired` (neither). `rotate` makes a new active
key; `jwks` lists every key that still verifies. The model has the fields of `SigningKeyFields` and a
unique constraint on the active state (two processes making the first key at once: one wins).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone

from kernel import crypto


class KeyState(models.TextChoices):
    ACTIVE = "active", "Active (signs and verifies)"
    RETIRING = "retiring", "Retiring (verifies until verify_until)"
    RETIRED = "retired", "Retired (neither)"


class SigningKeyFields(models.Model):
    """The columns of a keyring's table (abstract)."""

    kid = models.CharField(max_length=64, unique=True)  # RFC 7638 thumbprint of the public JWK
    state = models.CharField(max_length=8, choices=KeyState.choices)
    public_jwk = models.JSONField()
    sealed_private_key = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    verify_until = models.DateTimeField(null=True, blank=True)  # set when the key starts retiring
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


@dataclass(frozen=True)
class SigningMaterial:
    kid: str
    private_key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Rotation:
    """What a rotation did."""

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


_private_cache: dict[tuple[str, str], ec.EllipticCurvePrivateKey] = {}
_cache_lock = threading.Lock()


def key_state(row, now: datetime) -> str:
    """The state a key is in now: a retiring key past its overlap no longer verifies (it is stored as
    retired at the next rotation)."""
    if row.state == KeyState.RETIRING and row.verify_until is not None and row.verify_until <= now:
        return KeyState.RETIRED
    return row.state


class Keyring:
    """The keys of one table. `encryption_key` and `overlap_seconds` are read when used (settings may
    change in tests); `on_rotated(data)` records a rotation (an audit line) inside its transaction."""

    def __init__(
        self,
        model: type[SigningKeyFields],
        *,
        encryption_key: Callable[[], str],
        overlap_seconds: Callable[[], int],
        on_rotated: Callable[[dict], None] = lambda data: None,
    ) -> None:
        self.model = model
        self._encryption_key = encryption_key
        self._overlap_seconds = overlap_seconds
        self._on_rotated = on_rotated

    def _kek(self) -> bytes:
        return crypto.parse_encryption_key(self._encryption_key())

    def _new_row(self, *, state: str):
        private_key = crypto.generate_private_key()
        jwk = crypto.public_jwk(private_key.public_key())
        kid = crypto.thumbprint(jwk)
        sealed = crypto.seal(crypto.private_key_pem(private_key), key=self._kek(), associated=kid)
        return self.model.objects.create(kid=kid, state=state, public_jwk=jwk, sealed_private_key=sealed)

    def _retire_expired(self, now: datetime) -> list[str]:
        expired = list(
            self.model.objects.filter(state=KeyState.RETIRING, verify_until__lte=now).values_list(
                "kid", flat=True
            )
        )
        if expired:
            self.model.objects.filter(kid__in=expired).update(state=KeyState.RETIRED, retired_at=now)
        return expired

    def rotate(self, *, overlap_seconds: int | None = None) -> Rotation:
        """Make a new active key; the old active key keeps verifying for `overlap_seconds`."""
        overlap = self._overlap_seconds() if overlap_seconds is None else overlap_seconds
        if overlap < 0:
            raise ValueError("the overlap cannot be negative")
        now = timezone.now()
        with transaction.atomic():
            current = self.model.objects.select_for_update().filter(state=KeyState.ACTIVE).first()
            verify_until = None
            if current is not None:
                verify_until = now + timedelta(seconds=overlap)
                current.state, current.verify_until = KeyState.RETIRING, verify_until
                current.save(update_fields=["state", "verify_until"])
            retired = self._retire_expired(now)
            new = self._new_row(state=KeyState.ACTIVE)
            rotation = Rotation(new.kid, current.kid if current else None, verify_until, retired)
            self._on_rotated(rotation.to_dict())
        return rotation

    def _unseal(self, row) -> ec.EllipticCurvePrivateKey:
        cache_key = (self.model._meta.db_table, row.kid)
        with _cache_lock:
            cached = _private_cache.get(cache_key)
        if cached is None:
            pem = crypto.unseal(row.sealed_private_key, key=self._kek(), associated=row.kid)
            cached = crypto.load_private_key(pem)
            with _cache_lock:
                _private_cache[cache_key] = cached
        return cached

    def active(self) -> SigningMaterial:
        """The key that signs now; the first one is made on first use (an empty store after install)."""
        row = self.model.objects.filter(state=KeyState.ACTIVE).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = self._new_row(state=KeyState.ACTIVE)
                    self._on_rotated({"new_kid": row.kid, "first_key": True})
            except IntegrityError:  # another process made it first (the one-active constraint)
                row = self.model.objects.get(state=KeyState.ACTIVE)
        return SigningMaterial(row.kid, self._unseal(row))

    def verifying(self, now: datetime | None = None):
        now = now or timezone.now()
        return self.model.objects.filter(
            Q(state=KeyState.ACTIVE) | Q(state=KeyState.RETIRING, verify_until__gt=now)
        ).order_by("-created_at")

    def verifying_public_key(self, kid: str) -> ec.EllipticCurvePublicKey | None:
        """The public key of `kid` if it still verifies."""
        row = self.verifying().filter(kid=kid).first()
        return crypto.public_key_from_jwk(row.public_jwk) if row else None

    def jwks(self) -> dict:
        """The JWKS of every key that verifies now: the active key first (made if the store is empty, so
        verifiers can fetch it before the first signature), then retiring ones."""
        self.active()
        return {"keys": [crypto.jwk_for_jwks(row.public_jwk, kid=row.kid) for row in self.verifying()]}

    def listing(self) -> list[dict]:
        """Every key with its state now (the `keys list` commands)."""
        now = timezone.now()
        return [
            {
                "kid": k.kid,
                "state": key_state(k, now),
                "created_at": k.created_at,
                "verify_until": k.verify_until,
            }
            for k in self.model.objects.order_by("-created_at")
        ]
