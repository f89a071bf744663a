"""Orders writes: cart, coupons, checkout and cancellation."""

from .cancellation import order_cancel
from .cart import cart_clear, cart_item_add, cart_item_remove, cart_item_update
from .checkout import CheckoutResult, ShippingAddress, order_checkout
from .coupons import coupon_create, coupon_redeem, coupon_redemption_undo
from .numbers import order_number_new

__all__ = [
    "CheckoutResult",
    "ShippingAddress",
    "cart_clear",
    "cart_item_add",
    "cart_item_remove",
    "cart_item_update",
    "coupon_create",
    "coupon_redeem",
    "coupon_redemption_undo",
    "order_cancel",
    "order_checkout",
    "order_number_new",
]
