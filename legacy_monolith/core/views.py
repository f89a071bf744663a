"""Health endpoints. (The JSON error handlers and the middleware that keeps errors JSON when DEBUG is on
are the chassis': chassis/errors.py.)"""

from django.db import connection
from django.http import JsonResponse


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
