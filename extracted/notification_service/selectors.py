"""Reads of the Notification service."""

from __future__ import annotations

from django.db.models import QuerySet

from contracts.notifications import ANY

from .models import Notification, Preference, UserLocale


def notification_list(*, user_id: int, state: str | None = None, channel: str | None = None) -> QuerySet:
    rows = Notification.objects.filter(user_id=user_id).order_by("-created_at", "id")
    if state:
        rows = rows.filter(state=state)
    if channel:
        rows = rows.filter(channel=channel)
    return rows


def preferences_get(*, user_id: int) -> dict:
    locale = UserLocale.objects.filter(pk=user_id).values_list("locale", flat=True).first()
    opt_outs = [
        {"channel": p.channel, "category": p.category}
        for p in Preference.objects.filter(user_id=user_id, opted_out=True).order_by("channel", "category")
    ]
    return {"locale": locale or "", "opt_outs": opt_outs, "any": ANY}
