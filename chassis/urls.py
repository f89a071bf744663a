"""URL patterns every service includes: `urlpatterns = [*chassis_urlpatterns(), ...]`."""

from django.urls import URLPattern, path

from chassis.event_keys import event_keys_view
from chassis.health import healthz, readyz
from chassis.metrics import metrics_view


def chassis_urlpatterns() -> list[URLPattern]:
    return [
        path("healthz", healthz, name="healthz"),
        path("readyz", readyz, name="readyz"),
        path("metrics", metrics_view, name="metrics"),
        # the public keys this service signs its critical events with (contracts/event_trust.py)
        path(".well-known/event-keys.json", event_keys_view, name="event-keys"),
    ]
