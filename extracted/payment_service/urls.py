"""The Payment service's routes: chassis (health, readiness, metrics), /api/v1/payments (the monolith's
contract), /internal/v1 (charges for the saga, sync) and the OpenAPI schema at /api/schema/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from chassis.urls import chassis_urlpatterns

from .apis import internal, shadow, sync, v1

urlpatterns = [
    *chassis_urlpatterns(),
    path("api/v1/payments", v1.PaymentsApi.as_view(), name="payments-list"),
    path("api/v1/payments/webhooks/<str:gateway>", v1.WebhookApi.as_view(), name="payments-webhook"),
    path("api/v1/payments/<int:payment_id>", v1.PaymentApi.as_view(), name="payments-detail"),
    path("api/v1/payments/<int:payment_id>/refunds", v1.PaymentRefundsApi.as_view(), name="payments-refunds"),
    path("api/v1/orders/checkout", shadow.ShadowCheckoutApi.as_view(), name="shadow-checkout"),
    path("internal/v1/cards", internal.CardsApi.as_view(), name="internal-cards"),
    path("internal/v1/payments", internal.PaymentsApi.as_view(), name="internal-payments"),
    path("internal/v1/payments/voids", internal.PaymentVoidsApi.as_view(), name="internal-payment-voids"),
    path("internal/v1/payments/<int:payment_id>", internal.PaymentApi.as_view(), name="internal-payment"),
    path(
        "internal/v1/payments/<int:payment_id>/capture",
        internal.PaymentCaptureApi.as_view(),
        name="internal-payment-capture",
    ),
    path(
        "internal/v1/payments/<int:payment_id>/cancel",
        internal.PaymentCancelApi.as_view(),
        name="internal-payment-cancel",
    ),
    path(
        "internal/v1/payments/<int:payment_id>/refunds",
        internal.PaymentRefundsApi.as_view(),
        name="internal-payment-refunds",
    ),
    path("internal/v1/import/payments", sync.PaymentsImportApi.as_view(), name="internal-import-payments"),
    path(
        "internal/v1/import/blocklists", sync.BlocklistsImportApi.as_view(), name="internal-import-blocklists"
    ),
    path(
        "internal/v1/import/webhook_events",
        sync.WebhookEventsImportApi.as_view(),
        name="internal-import-webhook-events",
    ),
    path("internal/v1/export/payments", sync.PaymentsExportApi.as_view(), name="internal-export-payments"),
    path("internal/v1/sync/status", sync.SyncStatusApi.as_view(), name="internal-sync-status"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
]
