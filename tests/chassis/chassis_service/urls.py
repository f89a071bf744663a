from django.urls import path

from chassis.urls import chassis_urlpatterns
from tests.chassis.chassis_service import views

urlpatterns = [
    *chassis_urlpatterns(),
    path("widgets/<int:pk>", views.widget, name="widget-detail"),
    path("echo", views.echo, name="echo"),
    path("outbound", views.outbound, name="outbound"),
    path("crash", views.crash, name="crash"),
    path("plain-get-only", views.plain_get_only, name="plain-get-only"),
    path("whoami", views.whoami, name="whoami"),
    path("internal/ping", views.InternalPing.as_view(), name="internal-ping"),
    path("internal/verify/checksums", views.InternalVerifyChecksums.as_view(), name="internal-checksums"),
    path("internal/verify/digests", views.InternalVerifyDigests.as_view(), name="internal-digests"),
]
