"""The Order service's routes: chassis (health, readiness, metrics), the monolith's /api/v1/orders contract,
/api/v2/orders (asynchronous checkout) and the OpenAPI schema at /api/schema/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from chassis.urls import chassis_urlpatterns

from .apis import cart, internal, orders

urlpatterns = [
    *chassis_urlpatterns(),
    path("api/v1/orders", orders.OrdersApi.as_view(), name="orders-list"),
    path("api/v1/orders/cart", cart.CartApi.as_view(), name="orders-cart"),
    path("api/v1/orders/cart/items", cart.CartItemsApi.as_view(), name="orders-cart-items"),
    path("api/v1/orders/cart/items/<int:product_id>", cart.CartItemApi.as_view(), name="orders-cart-item"),
    path("api/v1/orders/shipping/quote", cart.ShippingQuoteApi.as_view(), name="orders-shipping-quote"),
    path("api/v1/orders/coupons/validate", cart.CouponValidateApi.as_view(), name="orders-coupon-validate"),
    path("api/v1/orders/coupons", cart.CouponsApi.as_view(), name="orders-coupons"),
    path("api/v1/orders/checkout", orders.CheckoutApi.as_view(), name="orders-checkout"),
    path("api/v1/orders/<str:number>", orders.OrderApi.as_view(), name="orders-detail"),
    path("api/v1/orders/<str:number>/cancel", orders.OrderCancelApi.as_view(), name="orders-cancel"),
    path("api/v2/orders", orders.OrdersV2Api.as_view(), name="orders-v2"),
    path("api/v2/orders/<str:number>", orders.OrderV2Api.as_view(), name="orders-v2-detail"),
    path("internal/v1/import/shipping_rules", internal.ShippingRulesImportApi.as_view(), name="import-rules"),
    path("internal/v1/import/coupons", internal.CouponsImportApi.as_view(), name="import-coupons"),
    path("internal/v1/import/orders", internal.OrdersImportApi.as_view(), name="import-orders"),
    path("internal/v1/export/orders", internal.OrdersExportApi.as_view(), name="export-orders"),
    path("internal/v1/sync/status", internal.SyncStatusApi.as_view(), name="sync-status"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
