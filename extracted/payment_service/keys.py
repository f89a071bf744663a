"""Field encryption keys: AES-256-GCM data keys sealed in the database under PAYMENT_KEY_ENCRYPTION_KEY,
one of them active; `keys rotate` makes a new active key, `keys reencrypt` moves values sealed under older
keys to it in batches (resumable: a checkpoint per column and target key), `keys list` shows them.

Also the keyed digests that stand in for sealed values in lookups (a provider reference's digest) and the
card fingerprint (velocity per card without the number): HMAC-SHA256 under keys derived from the key
encryption key, so they are stable across data key rotations.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from kernel.crypto import KeyMaterialError, parse_encryption_key, seal, unseal

from .fields import EncryptedJSONField, EncryptedTextField, Sealed

ACTIVE_CACHE_SECONDS = 5.0  # another process's `keys rotate` is used for new values within this


class DataKeyError(Exception):
    """A sealed value names a key this service does not have, or does not open under it."""


_lock = threading.Lock()
_keys: dict[str, bytes] = {}
_active: tuple[str, float] | None = None


def _kek() -> bytes:
    return parse_encryption_key(settings.PAYMENT_KEY_ENCRYPTION_KEY)


def _derived(purpose: bytes) -> bytes:
    return hmac.new(_kek(), b"payment-service/" + purpose, hashlib.sha256).digest()


def ref_digest(gateway: str, ref: str) -> str:
    """What a provider reference is found by (its sealed value cannot be searched)."""
    if not ref:
        return ""
    return hmac.new(_derived(b"reference-digest/v1"), f"{gateway}:{ref}".encode(), hashlib.sha256).hexdigest()


def card_fingerprint(digits: str) -> str:
    """Identifies a card across payments without its number (keyed: a BIN and last four leave little
    entropy, an unkeyed hash could be reversed by brute force)."""
    return hmac.new(_derived(b"card-fingerprint/v1"), digits.encode(), hashlib.sha256).hexdigest()


def forget_cached_keys() -> None:
    """Tests and `keys rotate` in-process: the next seal reads the active key again."""
    global _active
    with _lock:
        _keys.clear()
        _active = None


def _load(kid: str) -> bytes:
    key = _keys.get(kid)
    if key is not None:
        return key
    from .models import DataKey

    row = DataKey.objects.filter(kid=kid).first()
    if row is None:
        raise DataKeyError(f"no data key {kid!r}")
    try:
        key = unseal(row.sealed, key=_kek(), associated=f"datakey:{kid}")
    except KeyMaterialError:
        raise DataKeyError(f"data key {kid} does not open: wrong PAYMENT_KEY_ENCRYPTION_KEY?") from None
    with _lock:
        _keys[kid] = key
    return key


def _new_key_row(*, active: bool):
    from .models import DataKey

    kid = "k" + secrets.token_hex(4)
    raw = secrets.token_bytes(32)
    return DataKey(kid=kid, sealed=seal(raw, key=_kek(), associated=f"datakey:{kid}"), active=active)


def active_kid() -> str:
    """The active data key's id; the first use creates one (two processes racing: one wins)."""
    global _active
    now = time.monotonic()
    cached = _active
    if cached is not None and now - cached[1] < ACTIVE_CACHE_SECONDS:
        return cached[0]
    from .models import DataKey

    row = DataKey.objects.filter(active=True).first()
    if row is None:
        try:
            with transaction.atomic():
                row = _new_key_row(active=True)
                row.save(force_insert=True)
        except IntegrityError:  # another process created the first key meanwhile
            row = DataKey.objects.get(active=True)
    with _lock:
        _active = (row.kid, now)
    return row.kid


def seal_value(text: str, *, column: str) -> str:
    kid = active_kid()
    return f"{kid}:" + seal(text.encode(), key=_load(kid), associated=f"{column}:{kid}")


def kid_of(stored: str) -> str:
    return stored.split(":", 1)[0]


def open_value(stored: str, *, column: str) -> str:
    kid, _, sealed = stored.partition(":")
    if not sealed:
        raise DataKeyError(f"{column}: the stored value is not sealed")
    try:
        return unseal(sealed, key=_load(kid), associated=f"{column}:{kid}").decode()
    except KeyMaterialError:
        raise DataKeyError(
            f"{column}: a value sealed under {kid} does not open (tampered or moved)"
        ) from None


# --- commands ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyInfo:
    kid: str
    active: bool
    created_at: str
    retired_at: str | None
    values: int  # values still sealed under this key, across every encrypted column


def encrypted_columns() -> list[tuple[type, str]]:
    """(model, field name) of every encrypted column of this service."""
    found = []
    for model in apps.get_app_config("payment_service").get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField | EncryptedJSONField):
                found.append((model, field.name))
    return found


def key_list() -> list[KeyInfo]:
    from .models import DataKey

    infos = []
    for row in DataKey.objects.order_by("created_at", "kid"):
        count = sum(
            model.objects.filter(**{f"{name}__startswith": f"{row.kid}:"}).count()
            for model, name in encrypted_columns()
        )
        infos.append(
            KeyInfo(
                row.kid,
                row.active,
                row.created_at.isoformat(),
                row.retired_at.isoformat() if row.retired_at else None,
                count,
            )
        )
    return infos


def key_rotate(*, actor: str = "") -> str:
    """Make a new data key the active one; the old ones keep opening their values. Returns the new kid."""
    from .audit import audit_record
    from .models import DataKey

    with transaction.atomic():
        previous = list(DataKey.objects.select_for_update().filter(active=True))
        DataKey.objects.filter(active=True).update(active=False, retired_at=timezone.now())
        row = _new_key_row(active=True)
        row.save(force_insert=True)
        audit_record(
            event="keys.rotated",
            actor=actor,
            data={"kid": row.kid, "previous": [p.kid for p in previous]},
        )
    forget_cached_keys()
    return row.kid


@dataclass
class ReencryptResult:
    kid: str
    moved: int = 0
    columns: dict[str, int] | None = None
    finished: bool = False


def keys_reencrypt(
    *,
    batch_size: int = 500,
    limit: int | None = None,
    on_batch: Callable[[str, int], None] | None = None,
) -> ReencryptResult:
    """Re-seal every value not under the active key, column by column, in primary-key batches. Each batch
    commits with its checkpoint, so a killed run resumes after the last committed batch. `limit` stops
    after about that many values (a bounded run)."""
    from .models import ReencryptCheckpoint

    forget_cached_keys()
    kid = active_kid()
    result = ReencryptResult(kid=kid, columns={})
    for model, name in encrypted_columns():
        column = f"{model._meta.label}.{name}"
        checkpoint, _ = ReencryptCheckpoint.objects.get_or_create(column=column, kid=kid)
        if checkpoint.finished_at is not None:  # a finished pass: look again (values sealed since)
            checkpoint.last_pk, checkpoint.finished_at = "", None
        moved = 0
        while checkpoint.finished_at is None:
            if limit is not None and result.moved >= limit:
                return result
            moved_now = _reencrypt_batch(model, name, column, kid, checkpoint, batch_size)
            moved += moved_now
            result.moved += moved_now
            if on_batch is not None:
                on_batch(column, moved_now)
        result.columns[column] = moved
    result.finished = True
    return result


def _reencrypt_batch(model, name: str, column: str, kid: str, checkpoint, batch_size: int) -> int:
    from .models import ReencryptCheckpoint

    pk = model._meta.pk.name
    with transaction.atomic():
        rows = model.objects.select_for_update(skip_locked=True).exclude(**{name: ""}).exclude(**{name: None})
        rows = rows.exclude(**{f"{name}__startswith": f"{kid}:"}).order_by(pk)
        if checkpoint.last_pk:
            rows = rows.filter(**{f"{pk}__gt": model._meta.pk.to_python(checkpoint.last_pk)})
        batch = list(rows.values_list(pk, name)[:batch_size])
        field = model._meta.get_field(name)
        for key, value in batch:  # opened by the field on load, sealed again under the active key
            model.objects.filter(**{pk: key}).update(**{name: Sealed(field.get_db_prep_save(value, None))})
        checkpoint.moved += len(batch)
        if batch:
            checkpoint.last_pk = str(batch[-1][0])
        if len(batch) < batch_size:
            checkpoint.finished_at = timezone.now()
        ReencryptCheckpoint.objects.filter(pk=checkpoint.pk).update(
            moved=checkpoint.moved, last_pk=checkpoint.last_pk, finished_at=checkpoint.finished_at
        )
    return len(batch)
