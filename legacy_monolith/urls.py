from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from chassis.event_keys import event_keys_view
from chassis.metrics import metrics_view
from legacy_monolith.catalog import internal as catalog_internal
from legacy_monolith.core import views as core_views
from legacy_monolith.orders.apis.orders import OrdersApi
from legacy_monolith.payments import internal as payments_internal
from legacy_monolith.payments.apis import PaymentsApi

# Collections are served without a trailing slash, like every other path (APPEND_SLASH is off).
api_v1 = [
    path("orders", OrdersApi.as_view(), name="orders-list"),
    path("payments", PaymentsApi.as_view(), name="payments-list"),
    path("accounts/", include("legacy_monolith.accounts.urls")),
    path("catalog/", include("legacy_monolith.catalog.urls")),
    path("orders/", include("legacy_monolith.orders.urls")),
    path("payments/", include("legacy_monolith.payments.urls")),
]

# The Order service's saga participants (bearer INTERNAL_API_TOKEN; never through the gateway: ops.internal).
internal_v1 = [
    path("stock/reserve", catalog_internal.StockReserveApi.as_view(), name="internal-stock-reserve"),
    path("stock/release", catalog_internal.StockReleaseApi.as_view(), name="internal-stock-release"),
    path("payments/tokenize", payments_internal.TokenizeApi.as_view(), name="internal-payments-tokenize"),
    path("payments/authorize", payments_internal.AuthorizeApi.as_view(), name="internal-payments-authorize"),
    path("payments/capture", payments_internal.CaptureApi.as_view(), name="internal-payments-capture"),
    path("payments/void", payments_internal.VoidApi.as_view(), name="internal-payments-void"),
    path("payments/refund", payments_internal.RefundApi.as_view(), name="internal-payments-refund"),
]

urlpatterns = [
    path("healthz", core_views.healthz),
    path("readyz", core_views.readyz),
    # Prometheus: the ACL catalog client's calls, fallbacks and breaker state (summed over gunicorn workers).
    path("metrics", metrics_view),
    # the public keys the monolith's relay signs critical events with (chassis/event_keys.py)
    path(".well-known/event-keys.json", event_keys_view),
    path("api/v1/", include(api_v1)),
    path("internal/v1/", include(internal_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The migration's status page and its JSON API (staff only): control/cockpit/.
    path("ops/migration/", include("control.cockpit.urls")),
]

handler400 = "chassis.errors.bad_request"
handler403 = "chassis.errors.permission_denied"
handler404 = "chassis.errors.not_found"
handler500 = "chassis.errors.server_error"
