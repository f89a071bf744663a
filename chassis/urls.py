"""URL patterns every service includes: `urlpatterns = [*chassis_urlpatterns(), ...]`."""

from django.urls import URLPattern, path

from chassis.health import healthz, readyz
from chassis.metrics import metrics_view


def chassis_urlpatterns() -> list[URLPattern]:
    return [
        path("healthz", healthz, name="healthz"),
        path("readyz", readyz, name="readyz"),
        path("metrics", metrics_view, name="metrics"),
    ]
