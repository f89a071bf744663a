"""/api/v1/payments/..."""

from django.urls import path

from .apis import PaymentApi, PaymentRefundsApi, PaymentsApi, WebhookApi

urlpatterns = [
    path("", PaymentsApi.as_view(), name="payments-list"),
    path("webhooks/<str:gateway>", WebhookApi.as_view(), name="payments-webhook"),
    path("<int:payment_id>", PaymentApi.as_view(), name="payments-detail"),
    path("<int:payment_id>/refunds", PaymentRefundsApi.as_view(), name="payments-refunds"),
]
