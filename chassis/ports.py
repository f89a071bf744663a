"""The internal port: with INTERNAL_PORT set, /internal/ and /metrics answer only on that port.

A process then listens twice (gunicorn `-b public -b internal`): the public port is the gateway's upstream,
the internal one serves the same application plus /internal/ (sync jobs, saga participants, the ACL
client) and /metrics (Prometheus). A NetworkPolicy can then let only those callers reach the internal
port, which a path inside one port cannot be guarded by. gunicorn sets SERVER_PORT to the port of the
listener that accepted the connection, whatever Host the client sent. Unset (the embedded profile, tests):
one port serves everything, as before.
"""

from __future__ import annotations

import os

from django.http import JsonResponse

from chassis.exceptions import error_body

INTERNAL_PREFIXES = ("/internal/", "/metrics")


def internal_port(env=None) -> str:
    """INTERNAL_PORT as a string ('' = not split), validated once at start."""
    environ = os.environ if env is None else env
    raw = environ.get("INTERNAL_PORT", "").strip()
    if raw and not (raw.isdigit() and 0 < int(raw) < 65536):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"INTERNAL_PORT must be a port number, not {raw!r}")
    return raw


class InternalPortMiddleware:
    """404 `route_not_available` for /internal/ and /metrics on any port but INTERNAL_PORT."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.port = internal_port()

    def __call__(self, request):
        if (
            self.port
            and request.path.startswith(INTERNAL_PREFIXES)
            and request.META.get("SERVER_PORT") != self.port
        ):
            return JsonResponse(
                error_body("route_not_available", "Not served on this port", {"path": request.path}),
                status=404,
            )
        return self.get_response(request)
