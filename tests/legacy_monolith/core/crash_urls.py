"""The monolith's urls plus one plain view with a bug (for the JSON 500 test)."""

from django.urls import path

from legacy_monolith.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


def crash(request):
    raise RuntimeError("a bug in the monolith")


urlpatterns = [*urlpatterns, path("crash", crash)]
