"""The monolith's pricing rules: one copy, shared with the Order service in contracts.pricing."""

from contracts.pricing import (
    CENT,
    MAX_LINE_QUANTITY,
    CouponTerms,
    RateRule,
    coupon_check,
    coupon_discount,
    money,
    postal_code_normalize,
    shipping_rule_pick,
)

__all__ = [
    "CENT",
    "MAX_LINE_QUANTITY",
    "CouponTerms",
    "RateRule",
    "coupon_check",
    "coupon_discount",
    "money",
    "postal_code_normalize",
    "shipping_rule_pick",
]
