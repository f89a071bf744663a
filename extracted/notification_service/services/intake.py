"""From an event to its messages: one Notification per channel, created once, in the consumer's transaction.

The row's id is a uuid5 of (event id, channel, address) — the idempotency key — and (event id, channel,
address) is unique in the database, so an event delivered twice (or replayed from the DLQ after its first
run committed) creates nothing new and sends nothing. A message that must not go out is still recorded,
`suppressed` with its reason (opted out, rate limited, no address), so the user's list says why.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chassis.celery_app import enqueue_batch_on_commit
from contracts.events import Envelope
from contracts.notifications import ANY
from contracts.user import validate_user

from ..catalog import RULES, Rule, UnusableEvent
from ..models import Notification, Preference, Recipient, UserLocale
from ..rendering import render

KEY_NAMESPACE = uuid.UUID("0b6f9b0e-6c1f-4a55-9d55-6e6f74696679")
S = Notification.State


class RecipientUnknown(Exception):
    """No address is known for the user yet (the consumer retries; the DLQ keeps it if that lasts)."""


def idempotency_key(event_id: str, channel: str, address: str) -> uuid.UUID:
    return uuid.uuid5(KEY_NAMESPACE, f"{event_id}|{channel}|{address.lower()}")


def recipient_upsert(envelope: Envelope) -> bool:
    """`user.upserted`: the user's addresses, applied when newer than the stored copy."""
    try:
        doc = validate_user(envelope.data)
    except ValueError as exc:
        raise UnusableEvent(f"user document: {exc}") from None
    with transaction.atomic():
        current = Recipient.objects.select_for_update().filter(pk=doc["id"]).first()
        if current is not None and current.version >= doc["version"]:
            return False
        Recipient.objects.update_or_create(
            pk=doc["id"],
            defaults={
                "email": doc["email"],
                "phone": doc["phone"],
                "first_name": doc["first_name"],
                "is_active": doc["is_active"],
                "version": doc["version"],
            },
        )
    return True


def _opted_out(user_id: int, channel: str, category: str) -> bool:
    return Preference.objects.filter(
        user_id=user_id, channel__in=(channel, ANY), category__in=(category, ANY), opted_out=True
    ).exists()


def _over_rate_limit(user_id: int) -> bool:
    since = timezone.now() - timedelta(seconds=settings.NOTIFICATION_RATE_WINDOW_SECONDS)
    sent = (
        Notification.objects.filter(user_id=user_id, created_at__gte=since)
        .exclude(state=S.SUPPRESSED)
        .count()
    )
    return sent >= settings.NOTIFICATION_RATE_LIMIT


def _locale(user_id: int, given: str) -> str:
    if given:
        return given
    chosen = UserLocale.objects.filter(pk=user_id).values_list("locale", flat=True).first()
    return chosen or settings.NOTIFICATION_DEFAULT_LOCALE


def _addresses(rule: Rule, context: dict) -> tuple[dict[str, str], str]:
    """{channel: address} ("" = none) and the first name, from the event or the directory."""
    user_id = context["user_id"]
    if rule.addressed:
        return {"email": context["email"], "sms": "", "push": f"user:{user_id}"}, context["first_name"]
    recipient = Recipient.objects.filter(pk=user_id).first()
    if recipient is None:
        raise RecipientUnknown(f"no address known for user {user_id} yet (user.upserted not seen)")
    return {
        "email": recipient.email if recipient.is_active else "",
        "sms": recipient.phone if recipient.is_active else "",
        "push": f"user:{user_id}" if recipient.is_active else "",
    }, recipient.first_name


def notifications_from_event(envelope: Envelope) -> list[Notification]:
    """Create this event's messages (one transaction, the consumer's) and send the queued ones on commit."""
    # No savepoint inside the consumer's transaction: nothing here catches an error, so one rolls back the
    # caller's transaction (or its savepoint) as a whole.
    with transaction.atomic(savepoint=False):
        return _notifications_from_event(envelope)


def _notifications_from_event(envelope: Envelope) -> list[Notification]:
    rule = RULES.get(envelope.type)
    if rule is None:
        return []
    context = rule.context(envelope.data)
    user_id = context["user_id"]
    addresses, first_name = _addresses(rule, context)
    context.setdefault("first_name", first_name)
    context["first_name"] = context["first_name"] or first_name
    locale = _locale(user_id, context.get("locale", ""))
    rendered = render(rule.template, locale, context, shop_url=settings.NOTIFICATION_SHOP_URL)
    limited = _over_rate_limit(user_id)
    rows = []
    for channel in rule.channels:
        address = addresses.get(channel, "")
        key = idempotency_key(envelope.id, channel, address or f"none:{user_id}")
        reason = ""
        if not address:
            reason = "no_address"
        elif not rule.transactional and _opted_out(user_id, channel, rule.category):
            reason = "opted_out"
        elif limited:
            reason = "rate_limited"
        rows.append(
            Notification(
                id=key,
                event_id=envelope.id,
                event_type=envelope.type,
                trace_id=envelope.trace_id,
                user_id=user_id,
                channel=channel,
                category=rule.category,
                address=address or f"none:{user_id}",
                locale=locale,
                subject=rendered.subject if channel == "email" else "",
                text=rendered.text,
                html=rendered.html if channel == "email" else "",
                state=S.SUPPRESSED if reason else S.QUEUED,
                reason=reason,
                published_at=envelope.occurred_at,
            )
        )
    existing = set(Notification.objects.filter(id__in=[r.id for r in rows]).values_list("id", flat=True))
    fresh = [row for row in rows if row.id not in existing]
    Notification.objects.bulk_create(fresh, ignore_conflicts=True)
    from ..tasks import notifications_deliver

    for row in fresh:  # one task for the rows of every event of the consumer's batch (one transaction)
        if row.state == S.QUEUED:
            enqueue_batch_on_commit(notifications_deliver, row.id, limit=settings.NOTIFICATION_SEND_BATCH)
    return fresh
