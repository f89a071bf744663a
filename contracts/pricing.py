"""Pure pricing rules: postal codes, which shipping rule prices a parcel, whether a coupon applies and
what it takes off. Nothing here touches the database, so every rule is tested with plain tables.

A contract of behaviour: while orders are created on both sides (the monolith and the Order service), both
price a cart, a parcel and a coupon with these same functions, so an order costs the same wherever it is
placed (legacy_monolith/orders/pricing.py re-exports them for the monolith)."""

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from contracts.errors import ApplicationError

CENT = Decimal("0.01")
MAX_LINE_QUANTITY = 99  # per cart line; a shop limit, stated in the error so clients can show it

# Formats of the countries we ship to most; other countries get a permissive generic pattern.
_POSTAL_CODE_FORMATS: dict[str, re.Pattern[str]] = {
    "FR": re.compile(r"^\d{5}$"),
    "DE": re.compile(r"^\d{5}$"),
    "BE": re.compile(r"^\d{4}$"),
    "NL": re.compile(r"^\d{4} ?[A-Z]{2}$"),
    "LU": re.compile(r"^(L-)?\d{4}$"),
    "CH": re.compile(r"^\d{4}$"),
    "ES": re.compile(r"^\d{5}$"),
    "IT": re.compile(r"^\d{5}$"),
    "US": re.compile(r"^\d{5}(-\d{4})?$"),
    "GB": re.compile(r"^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$"),
}
_GENERIC_POSTAL_CODE = re.compile(r"^[A-Z0-9](?:[A-Z0-9 -]{0,8}[A-Z0-9])?$")


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up (the way a till does)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def postal_code_normalize(*, country: str, postal_code: str) -> str:
    """Trim and upper-case a postal code; ValueError when it does not fit the country's format."""
    code = " ".join(postal_code.strip().upper().split())
    pattern = _POSTAL_CODE_FORMATS.get(country.upper(), _GENERIC_POSTAL_CODE)
    if not pattern.match(code):
        raise ValueError(f"{postal_code!r} is not a valid postal code for {country.upper()}")
    return code


def _compact(postal_code: str) -> str:
    """The form prefixes are matched on: no spaces or hyphens ("75001", "SW1A1AA", "123456789")."""
    return re.sub(r"[\s-]", "", postal_code.upper())


class RateRule(Protocol):
    id: int | None
    country: str
    postal_prefix: str
    min_weight_grams: int
    max_weight_grams: int | None
    priority: int
    is_active: bool


def shipping_rule_pick[R: RateRule](
    rules: Iterable[R], *, country: str, postal_code: str, weight_grams: int
) -> R | None:
    """The most specific active rule for a parcel, or None when nothing ships there.

    A rule matches on its country, a postal prefix the code starts with (empty matches all) and a
    weight band min <= weight < max (no max: open-ended). Among matches the longest prefix wins, then
    the narrower weight band, then the higher priority, then the older rule (so the pick is stable).
    """
    compact = _compact(postal_code)
    country = country.upper()
    matches = [
        rule
        for rule in rules
        if rule.is_active
        and rule.country.upper() == country
        and compact.startswith(_compact(rule.postal_prefix))
        and rule.min_weight_grams <= weight_grams
        and (rule.max_weight_grams is None or weight_grams < rule.max_weight_grams)
    ]
    if not matches:
        return None

    def specificity(rule: R) -> tuple:
        band = (
            float("inf") if rule.max_weight_grams is None else rule.max_weight_grams - rule.min_weight_grams
        )
        return (-len(_compact(rule.postal_prefix)), band, -rule.priority, rule.id or 0)

    return min(matches, key=specificity)


class CouponTerms(Protocol):
    code: str
    kind: str
    value: Decimal
    min_order_total: Decimal
    valid_from: datetime | None
    expires_at: datetime | None
    usage_limit: int | None
    times_used: int
    is_active: bool


def coupon_check(coupon: CouponTerms, *, subtotal: Decimal, now: datetime) -> None:
    """Raise the coupon_* error that stops this coupon applying to a subtotal at `now`, if any.

    The usage limit is checked here for a friendly early answer; the redemption at checkout enforces it
    again atomically (coupon_redeem), which is the check that counts.
    """
    extra = {"code": coupon.code}
    if not coupon.is_active:
        raise ApplicationError("coupon_inactive", f"Coupon {coupon.code} is no longer offered", extra=extra)
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise ApplicationError(
            "coupon_not_yet_valid",
            f"Coupon {coupon.code} is valid from {coupon.valid_from.isoformat()}",
            extra={**extra, "valid_from": coupon.valid_from.isoformat()},
        )
    if coupon.expires_at is not None and now >= coupon.expires_at:
        raise ApplicationError(
            "coupon_expired",
            f"Coupon {coupon.code} expired at {coupon.expires_at.isoformat()}",
            extra={**extra, "expires_at": coupon.expires_at.isoformat()},
        )
    if coupon.usage_limit is not None and coupon.times_used >= coupon.usage_limit:
        raise ApplicationError(
            "coupon_exhausted",
            f"Coupon {coupon.code} has been used the maximum number of times",
            extra={**extra, "usage_limit": coupon.usage_limit},
        )
    if subtotal < coupon.min_order_total:
        raise ApplicationError(
            "coupon_min_order_not_met",
            f"Coupon {coupon.code} needs an order of at least {money(coupon.min_order_total)}",
            extra={
                **extra,
                "min_order_total": str(money(coupon.min_order_total)),
                "subtotal": str(money(subtotal)),
            },
        )


def coupon_discount(*, kind: str, value: Decimal, subtotal: Decimal) -> Decimal:
    """What a coupon takes off the subtotal (shipping is never discounted); never more than the subtotal."""
    if kind == "percent":
        discount = money(subtotal * value / Decimal(100))
    elif kind == "fixed":
        discount = money(value)
    else:
        raise ValueError(f"unknown coupon kind {kind!r}")
    return min(max(discount, Decimal("0.00")), money(subtotal))
