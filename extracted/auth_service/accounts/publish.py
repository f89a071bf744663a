"""A change made here, versioned and published: the user's `version` moves to now (in microseconds,
always past the stored one) and `user.upserted` with the user's document goes into the outbox in the same
transaction (the relay publishes it; the monolith's `sync users receive` applies it)."""

from __future__ import annotations

import time

from django.db import transaction

from chassis.outbox.writer import outbox_write
from contracts.user import USER_UPSERTED

from ..models import User
from ..user_sync import user_document


def user_changed(user: User, *, update_fields: list[str] | None = None) -> User:
    """Save the user with a new version and publish it; runs in (or opens) one transaction."""
    with transaction.atomic():
        user.version = max(time.time_ns() // 1000, (user.version or 0) + 1)
        if update_fields is None:
            user.save()
        else:
            user.save(update_fields=[*update_fields, "version", "updated_at"])
        outbox_write(USER_UPSERTED, user_document(user))
    return user
