"""Coupon writes: staff create them (redemption is the saga's redeem_coupon step, saga/local.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from chassis.orders_v1 import COUPON_CODE
from contracts.errors import ApplicationError, ConflictError

from ..models import Coupon


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
    problems = [
        (not COUPON_CODE.match(code), "code", "A code is 1 to 32 letters, digits, '-' or '_'"),
        (kind not in Coupon.Kind.values, "kind", f"Unknown coupon kind {kind!r}"),
        (
            value <= 0 or (kind == Coupon.Kind.PERCENT and value > 100),
            "value",
            "A percentage is above 0 and at most 100; a fixed amount is above 0",
        ),
        (min_order_total < 0, "min_order_total", "The minimum order cannot be negative"),
        (
            valid_from is not None and expires_at is not None and expires_at <= valid_from,
            "expires_at",
            "A coupon must expire after it becomes valid",
        ),
        (usage_limit is not None and usage_limit < 1, "usage_limit", "A usage limit is at least 1"),
    ]
    for failed, field, message in problems:
        if failed:
            raise ApplicationError("invalid_coupon", message, extra={"field": field})
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
    except IntegrityError as exc:
        raise taken from exc
