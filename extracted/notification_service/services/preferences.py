"""Writes of a user's preferences: the whole set at once (PUT), idempotent by nature."""

from __future__ import annotations

from django.db import transaction

from ..models import Preference, UserLocale


def preferences_set(*, user_id: int, locale: str, opt_outs: list[tuple[str, str]]) -> None:
    """Replace the user's opt-outs with `opt_outs` [(channel, category)] and their locale ("" = default)."""
    with transaction.atomic():
        Preference.objects.filter(user_id=user_id).delete()
        Preference.objects.bulk_create(
            [Preference(user_id=user_id, channel=c, category=k) for c, k in sorted(set(opt_outs))]
        )
        if locale:
            UserLocale.objects.update_or_create(pk=user_id, defaults={"locale": locale})
        else:
            UserLocale.objects.filter(pk=user_id).delete()
