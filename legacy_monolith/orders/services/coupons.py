"""Coupon writes: staff create them; checkout redeems one atomically and a failed or cancelled order
gives the redemption back."""

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from chassis.orders_v1 import COUPON_CODE
from legacy_monolith.core.errors import ApplicationError, ConflictError

from ..models import Coupon, CouponRedemption, Order
from ..pricing import coupon_check


def coupon_create(
    *,
    code: str,
    kind: str,
    value: Decimal,
    min_order_total: Decimal = Decimal(0),
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    usage_limit: int | None = None,
    is_active: bool = True,
) -> Coupon:
    """Create a coupon; its code is stored upper-case and must be unique ignoring case."""
    code = code.strip().upper()
    if not COUPON_CODE.match(code):
        raise ApplicationError(
            "invalid_coupon", "A code is 1 to 32 letters, digits, '-' or '_'", extra={"field": "code"}
        )
    if kind not in Coupon.Kind.values:
        raise ApplicationError("invalid_coupon", f"Unknown coupon kind {kind!r}", extra={"field": "kind"})
    if value <= 0 or (kind == Coupon.Kind.PERCENT and value > 100):
        raise ApplicationError(
            "invalid_coupon",
            "A percentage is above 0 and at most 100; a fixed amount is above 0",
            extra={"field": "value"},
        )
    if min_order_total < 0:
        raise ApplicationError(
            "invalid_coupon", "The minimum order cannot be negative", extra={"field": "min_order_total"}
        )
    if valid_from is not None and expires_at is not None and expires_at <= valid_from:
        raise ApplicationError(
            "invalid_coupon", "A coupon must expire after it becomes valid", extra={"field": "expires_at"}
        )
    if usage_limit is not None and usage_limit < 1:
        raise ApplicationError(
            "invalid_coupon", "A usage limit is at least 1", extra={"field": "usage_limit"}
        )
    taken = ConflictError("coupon_code_taken", f"Coupon {code} already exists", extra={"code": code})
    if Coupon.objects.filter(code__iexact=code).exists():
        raise taken
    try:
        with transaction.atomic():
            return Coupon.objects.create(
                code=code,
                kind=kind,
                value=value,
                min_order_total=min_order_total,
                valid_from=valid_from,
                expires_at=expires_at,
                usage_limit=usage_limit,
                is_active=is_active,
            )
    except IntegrityError as exc:  # a concurrent create of the same code won the race
        raise taken from exc


def coupon_redeem(*, coupon: Coupon, order: Order, user) -> None:
    """Count one use and record it, inside the checkout's transaction.

    The usage limit is enforced by a conditional UPDATE (times_used < usage_limit): PostgreSQL re-checks
    the condition after waiting on a concurrent redeemer's row lock, so the limit can never be passed,
    however many checkouts race for the last use.
    """
    claimed = (
        Coupon.objects.filter(pk=coupon.pk, is_active=True)
        .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
        .update(times_used=F("times_used") + 1)
    )
    if not claimed:
        current = Coupon.objects.get(pk=coupon.pk)
        coupon_check(current, subtotal=order.subtotal, now=timezone.now())  # names the precise reason
        raise ApplicationError(
            "coupon_exhausted",
            f"Coupon {coupon.code} has been used the maximum number of times",
            extra={"code": coupon.code, "usage_limit": current.usage_limit},
        )
    CouponRedemption.objects.create(coupon=coupon, order=order, user=user)


def coupon_redemption_undo(*, order: Order) -> None:
    """Give back the use an order took (payment failed, order cancelled). Idempotent: once the
    redemption row is gone there is nothing left to give back."""
    redemption = CouponRedemption.objects.select_for_update().filter(order=order).first()
    if redemption is None:
        return
    Coupon.objects.filter(pk=redemption.coupon_id, times_used__gt=0).update(times_used=F("times_used") - 1)
    redemption.delete()
