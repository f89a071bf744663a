"""`sync users` on the auth service's side: the bulk upsert of user documents from the monolith, the user
document this service publishes back (`user.upserted`), and the verify digests.

Upsert keyed by legacy_user_id (the user's public id) with the version rule: applied only when newer
than the stored `version` (equal or older: `stale`, nothing written; idempotent). A user the token
exchange mirrored (no version yet) takes the document. Applying a document publishes nothing: the loop
stops here.

The password: the monolith's hash is carried, EXCEPT that a hash already upgraded to Argon2id here is
never overwritten by a synced PBKDF2 one of the same password (the monolith's hash is the one the upgrade
started from: it would only downgrade it). The last hash the monolith holds is kept (`legacy_password`),
so a password CHANGED on the monolith (a reset, say) still replaces it: the old password stops working
here too, and the user's refresh tokens are revoked (sessions end on a reset, whichever side made it).
An empty `password` means "no hash to give": the stored one stays. Digests are computed from the stored
rows with contracts.user.user_digest (no password, no version).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.hashers import identify_hasher
from django.db import IntegrityError, transaction

from contracts.errors import ApplicationError
from contracts.user import range_digest, render_timestamp, user_digest

from .models import User
from .sessions import refresh_tokens_revoke

UPGRADED_ALGORITHM = "argon2"


def _algorithm(encoded: str) -> str | None:
    try:
        return identify_hasher(encoded).algorithm
    except ValueError:
        return None  # unusable ("!...") or unknown


def _apply(user: User, doc: dict) -> bool:
    """Set the document's fields on the user; True when the monolith's password changed."""
    user.username, user.email = doc["username"], doc["email"]
    user.first_name, user.last_name, user.phone = doc["first_name"], doc["last_name"], doc["phone"]
    user.role, user.is_active, user.origin = doc["role"], doc["is_active"], doc["origin"]
    user.date_joined = datetime.fromisoformat(doc["date_joined"])
    user.version = doc["version"]
    incoming = doc["password"]
    if not incoming:
        if not user.password:
            user.set_unusable_password()
        return False
    changed = bool(user.legacy_password) and user.legacy_password != incoming
    upgraded_here = _algorithm(user.password or "") == UPGRADED_ALGORITHM
    # the monolith still holds the hash this user's Argon2id one was upgraded from (or we never saw one)
    same_password = user.legacy_password in ("", incoming)
    if not (upgraded_here and _algorithm(incoming) != UPGRADED_ALGORITHM and same_password):
        user.password = incoming
    user.legacy_password = incoming
    return changed


def users_import(*, users: list[dict]) -> dict:
    """Apply a batch of validated user documents; {"applied", "stale", "deleted": 0}."""
    applied = stale = 0
    with transaction.atomic():
        existing = {
            u.legacy_user_id: u
            for u in User.objects.select_for_update().filter(legacy_user_id__in=[d["id"] for d in users])
        }
        for doc in users:
            user = existing.get(doc["id"])
            if user is not None and user.version is not None and user.version >= doc["version"]:
                stale += 1
                continue
            user = user or User(legacy_user_id=doc["id"])
            password_changed = _apply(user, doc)
            try:
                with transaction.atomic():
                    user.save()
            except IntegrityError:
                raise ApplicationError(
                    "user_conflict",
                    "Another account here already holds this username or email",
                    status=409,
                    extra={"legacy_user_id": doc["id"]},
                ) from None
            if password_changed:
                refresh_tokens_revoke(user)
            existing[doc["id"]] = user
            applied += 1
    return {"applied": applied, "stale": stale, "deleted": 0}


def user_document(user: User) -> dict:
    """The user as a contracts.user document (what `user.upserted` carries back to the monolith)."""
    return {
        "id": user.legacy_user_id,
        "username": user.username,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "phone": user.phone,
        "role": user.role,
        "is_active": user.is_active,
        "date_joined": render_timestamp(user.date_joined),
        "password": user.legacy_password,
        "origin": user.origin,
        "version": user.version,
    }


def _pairs(lo: int, hi: int) -> list[tuple[int, str]]:
    users = User.objects.filter(legacy_user_id__gte=lo, legacy_user_id__lt=hi).order_by("legacy_user_id")
    return [(u.legacy_user_id, user_digest(user_document(u))) for u in users.iterator(chunk_size=2000)]


def user_digests(lo: int, hi: int) -> dict[int, str]:
    return dict(_pairs(lo, hi))


def user_range_checksums(ranges: Iterable[tuple[int, int]]) -> list[dict]:
    """Count and digest of the users with lo <= legacy_user_id < hi, per range (one query)."""
    ranges = list(ranges)
    if not ranges:
        return []
    pairs = _pairs(min(lo for lo, _ in ranges), max(hi for _, hi in ranges))
    ids = [pair[0] for pair in pairs]
    answers = []
    for lo, hi in ranges:
        inside = pairs[bisect_left(ids, lo) : bisect_left(ids, hi)]
        answers.append({"lo": lo, "hi": hi, "count": len(inside), "digest": range_digest(inside)})
    return answers
