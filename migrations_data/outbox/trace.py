"""The writing request's trace id for the outbox triggers (PostgreSQL): a trigger runs inside the database
and cannot see the request, so for unsafe methods this middleware sets the session setting
`strangler.trace_id` (read by the triggers into OutboxEvent.trace_id) and clears it afterwards; the relay
then publishes the catalog event in that trace. Reads cost nothing; a write two tiny statements. SQLite
(the embedded profile) keeps minting a trace per event."""

from __future__ import annotations

from django.db import connection

from migrations_data.outbox.triggers import TRACE_SETTING

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _set(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, %s, false)", [TRACE_SETTING, value])


class OutboxTraceMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        trace_id = getattr(request, "trace_id", None)
        if request.method not in UNSAFE or not trace_id or connection.vendor != "postgresql":
            return self.get_response(request)
        _set(trace_id)
        try:
            return self.get_response(request)
        finally:
            _set("")
