"""Reads of the Payment service."""

from __future__ import annotations

from django.db.models import QuerySet

from .errors import NotFoundError
from .models import Payment


def payment_list(*, user, order_number: str | None = None) -> QuerySet[Payment]:
    """Payments the user may see (staff: all), newest first, with their refunds."""
    payments = Payment.objects.prefetch_related("refunds")
    if not getattr(user, "is_staff", False):
        payments = payments.filter(user_id=user.user_id)
    if order_number:
        payments = payments.filter(order_number=order_number)
    return payments


def payment_get(*, user, payment_id: int) -> Payment:
    payment = payment_list(user=user).filter(pk=payment_id).first()
    if payment is None:
        raise NotFoundError("payment", payment_id)
    return payment
