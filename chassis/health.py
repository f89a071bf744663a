"""/healthz (the process answers) and /readyz (its dependencies answer, each within a short timeout)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string

from chassis.exceptions import error_body

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

    from kernel.mtls import amqp_ssl

    options = dict(settings.BROKER_TRANSPORT_OPTIONS)
    with Connection(
        settings.BROKER_URL,
        connect_timeout=CHECK_TIMEOUT_SECONDS,
        transport_options=options,
        ssl=amqp_ssl(settings.BROKER_URL),
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


def readiness_checks() -> dict[str, Callable[[], None]]:
    """Database always; Redis and the broker when configured; plus settings.READINESS_CHECKS (name: path).
    Which of them are optional is settings.READINESS_OPTIONAL's business (see readyz)."""
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
    """200 when every required check passes; else 503 naming each failing required check and its error.

    Checks named in settings.READINESS_OPTIONAL (e.g. {"redis"} for a service that answers uncached
    without it) are run and reported but never make the service unready: a failing one is listed under
    "degraded" and the answer stays 200 (status "degraded")."""
    optional = set(getattr(settings, "READINESS_OPTIONAL", ()))
    results: dict[str, str] = {}
    failing: list[str] = []
    degraded: list[str] = []
    for name, check in readiness_checks().items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready", never a 500
            log.warning("readiness check %s failed: %s", name, exc)
            results[name] = f"{type(exc).__name__}: {exc}"[:300]
            (degraded if name in optional else failing).append(name)
        else:
            results[name] = "ok"
    if failing:
        message = f"Failing checks: {', '.join(failing)}"
        extra = {"failing": failing, "degraded": degraded, "checks": results}
        return JsonResponse(error_body("not_ready", message, extra), status=503)
    status = "degraded" if degraded else "ready"
    return JsonResponse({"status": status, "checks": results, "degraded": degraded})
