"""/healthz (the process answers) and /readyz (its dependencies answer, each within a short timeout)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string

from extracted.common.exceptions import error_body

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    from kombu import Connection

    options = dict(settings.BROKER_TRANSPORT_OPTIONS)
    with Connection(
        settings.BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS, transport_options=options
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


def readiness_checks() -> dict[str, Callable[[], None]]:
    """Database always; Redis and the broker when configured; plus settings.READINESS_CHECKS (name: path)."""
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if getattr(settings, "REDIS_URL", ""):
        checks["redis"] = check_redis
    if getattr(settings, "BROKER_CONFIGURED", False):
        checks["broker"] = check_broker
    for name, path in getattr(settings, "READINESS_CHECKS", {}).items():
        checks[name] = import_string(path)
    return checks


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "service": getattr(settings, "SERVICE_NAME", "")})


def readyz(request: HttpRequest) -> JsonResponse:
    """200 when every check passes; else 503 naming each failing check and its error."""
    results: dict[str, str] = {}
    failing: list[str] = []
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready", never a 500
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"{type(exc).__name__}: {exc}"[:300]
            failing.append(name)
        else:
            results[name] = "ok"
    if failing:
        message = f"Failing checks: {', '.join(failing)}"
        return JsonResponse(
            error_body("not_ready", message, {"failing": failing, "checks": results}), status=503
        )
    return JsonResponse({"status": "ready", "checks": results})
