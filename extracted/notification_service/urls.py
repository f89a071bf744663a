"""The Notification service's routes: chassis (health, readiness, metrics) and /api/v2/notifications."""

from django.urls import path

from chassis.urls import chassis_urlpatterns

from .apis import v2

urlpatterns = [
    *chassis_urlpatterns(),
    path("api/v2/notifications", v2.NotificationsApi.as_view(), name="notifications-list"),
    path("api/v2/notifications/preferences", v2.PreferencesApi.as_view(), name="notifications-preferences"),
    path(
        "api/v2/notifications/receipts/<str:channel>", v2.ReceiptsApi.as_view(), name="notifications-receipts"
    ),
]
