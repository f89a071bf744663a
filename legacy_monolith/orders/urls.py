"""/api/v1/orders/...: cart, quotes, coupons, checkout, orders. The collection itself (/api/v1/orders) is
mounted in the root urls. Fixed paths come before <number>."""

from django.urls import path

from .apis.cart import CartApi, CartItemApi, CartItemsApi
from .apis.orders import CheckoutApi, OrderApi, OrderCancelApi
from .apis.pricing import CouponsApi, CouponValidateApi, ShippingQuoteApi

urlpatterns = [
    path("cart", CartApi.as_view(), name="orders-cart"),
    path("cart/items", CartItemsApi.as_view(), name="orders-cart-items"),
    path("cart/items/<int:product_id>", CartItemApi.as_view(), name="orders-cart-item"),
    path("shipping/quote", ShippingQuoteApi.as_view(), name="orders-shipping-quote"),
    path("coupons/validate", CouponValidateApi.as_view(), name="orders-coupon-validate"),
    path("coupons", CouponsApi.as_view(), name="orders-coupons"),
    path("checkout", CheckoutApi.as_view(), name="orders-checkout"),
    path("<str:number>", OrderApi.as_view(), name="orders-detail"),
    path("<str:number>/cancel", OrderCancelApi.as_view(), name="orders-cancel"),
]
