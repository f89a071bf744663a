"""Orders writes: cart, coupons, checkout and cancellation."""

from .cart import cart_clear, cart_item_add, cart_item_remove, cart_item_update
from .coupons import coupon_create, coupon_redeem, coupon_redemption_undo
from .numbers import order_number_new

__all__ = [
    "cart_clear",
    "cart_item_add",
    "cart_item_remove",
    "cart_item_update",
    "coupon_create",
    "coupon_redeem",
    "coupon_redemption_undo",
    "order_number_new",
]
