"""Health endpoints and JSON fallbacks for errors Django raises outside DRF."""

from django.db import connection
from django.http import JsonResponse

from .exceptions import error_body


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # readiness reports, it never raises
        return JsonResponse({"status": "unavailable", "checks": {"database": str(exc)}}, status=503)
    return JsonResponse({"status": "ok", "checks": {"database": "ok"}})


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", f"No route for {request.path}"), status=404)


def server_error(request):
    return JsonResponse(error_body("internal_error", "Unexpected server error"), status=500)


def bad_request(request, exception=None):
    return JsonResponse(error_body("bad_request", "Bad request"), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("permission_denied", "Permission denied"), status=403)
