"""Reads of the payments app."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from legacy_monolith.accounts.models import Role
from legacy_monolith.core.errors import NotFoundError

from .models import BlockedBin, BlockedCountry, Payment


@dataclass(frozen=True)
class Velocity:
    user_attempts: int
    card_attempts: int
    card_declines: int
    user_other_cards: int


def payment_velocity(
    *, user_id: int, card_fingerprint: str, window: dt.timedelta, exclude_payment_id: int | None = None
) -> Velocity:
    """Attempts (any outcome) by this user and by this card within the window, not counting one payment."""
    recent = Payment.objects.filter(created_at__gte=timezone.now() - window)
    if exclude_payment_id is not None:
        recent = recent.exclude(pk=exclude_payment_id)
    by_user = recent.filter(user_id=user_id)
    by_card = recent.filter(card_fingerprint=card_fingerprint) if card_fingerprint else recent.none()
    other_cards = (
        by_user.exclude(card_fingerprint="")
        .exclude(card_fingerprint=card_fingerprint)
        .values("card_fingerprint")
        .distinct()
        .count()
    )
    return Velocity(
        user_attempts=by_user.count(),
        card_attempts=by_card.count(),
        card_declines=by_card.filter(status=Payment.Status.DECLINED).count(),
        user_other_cards=other_cards,
    )


def bin_is_blocked(card_bin: str) -> bool:
    return bool(card_bin) and BlockedBin.objects.filter(bin=card_bin).exists()


def country_is_blocked(code: str) -> bool:
    return bool(code) and BlockedCountry.objects.filter(code=code.upper()).exists()


def payment_list(*, user, order_number: str | None = None) -> QuerySet[Payment]:
    """Payments the user may see (staff: all), newest first, with their order and refunds."""
    payments = Payment.objects.select_related("order").prefetch_related("refunds")
    if getattr(user, "role", None) not in (Role.STAFF, Role.ADMIN):
        payments = payments.filter(user=user)
    if order_number:
        payments = payments.filter(order__number=order_number)
    return payments


def payment_get(*, user, payment_id: int) -> Payment:
    payment = payment_list(user=user).filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("payment", payment_id)
    return payment
