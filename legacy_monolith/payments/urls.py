"""/api/v1/payments/...; the collection itself (/api/v1/payments) is mounted in the root urls."""

from django.urls import path

from .apis import PaymentApi, PaymentRefundsApi, WebhookApi

urlpatterns = [
    path("webhooks/<str:gateway>", WebhookApi.as_view(), name="payments-webhook"),
    path("<int:payment_id>", PaymentApi.as_view(), name="payments-detail"),
    path("<int:payment_id>/refunds", PaymentRefundsApi.as_view(), name="payments-refunds"),
]
