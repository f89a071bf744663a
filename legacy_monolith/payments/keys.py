"""Derived keys: card fingerprints and idempotency keys scoped to their owner."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def card_fingerprint(digits: str) -> str:
    """Identifies a card across payments (velocity per card) without storing its number.

    Keyed with SECRET_KEY (HMAC), not a plain hash: a card number has little entropy once the BIN and the
    last four digits are known (we store both), so an unkeyed SHA-256 could be reversed by brute force.
    """
    return hmac.new(settings.SECRET_KEY.encode(), digits.encode(), hashlib.sha256).hexdigest()


def scoped_key(scope: str, owner_id: int, client_key: str) -> str:
    """A client's Idempotency-Key is only unique for that client: scope it to its owner (the user for a
    charge, the payment for a refund) before it becomes a globally unique column and a gateway key."""
    return hashlib.sha256(f"{scope}:{owner_id}:{client_key}".encode()).hexdigest()[:48]
