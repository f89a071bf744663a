"""Ending a user's sessions here: their refresh tokens are revoked (access tokens run out by themselves)."""

from __future__ import annotations

import hashlib

from oauth2_provider.models import get_refresh_token_model

from .models import User


def refresh_tokens_revoke(user: User, *, keep_access_token: str | None = None) -> int:
    """Revoke every live refresh token of the user, except the one issued with `keep_access_token` (the
    token of the request that asks); the count revoked."""
    live = get_refresh_token_model().objects.filter(user=user, revoked__isnull=True)
    if keep_access_token:
        checksum = hashlib.sha256(keep_access_token.encode()).hexdigest()
        live = live.exclude(access_token__token_checksum=checksum)
    tokens = list(live)
    for refresh_token in tokens:
        refresh_token.revoke()
    return len(tokens)
