"""The cockpit's pages, mounted by the monolith under /ops/migration/ (legacy_monolith/urls.py)."""

from django.urls import path

from control.cockpit import views

urlpatterns = [
    path("", views.StatusPage.as_view(), name="migration-status-page"),
    path("api/status", views.StatusApi.as_view(), name="migration-status-api"),
    path("shadow-report", views.ShadowReportPage.as_view(), name="migration-shadow-report"),
    path("runbooks/<str:name>", views.RunbookPage.as_view(), name="migration-runbook"),
]
