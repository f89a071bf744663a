"""One trace across every hop: the trace context of the request or event being handled, for the calls it
makes (`outbound_headers()`: the ACL client, the token exchange, sync HTTP, saga participants), and the
spans exported when OTEL_EXPORTER_OTLP_ENDPOINT is set (kernel.telemetry)."""

from __future__ import annotations

import contextvars

from django.conf import settings

from chassis.logging import request_id_var, trace_id_var
from contracts.tracecontext import REQUEST_ID_HEADER, SAMPLED, new_span_id
from kernel import telemetry

# this hop's traceparent: what a call made while handling the current request or event carries
traceparent_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)


def service_name() -> str:
    return getattr(settings, "SERVICE_NAME", None) or "monolith"


def outbound_headers() -> dict[str, str]:
    """traceparent (this hop as parent) and X-Request-ID for an outgoing HTTP call; {} outside a request or
    event (a command line job: the callee starts the trace)."""
    headers: dict[str, str] = {}
    traceparent = traceparent_var.get()
    if traceparent is None and trace_id_var.get() not in ("-", None):
        traceparent = f"00-{trace_id_var.get()}-{new_span_id()}-{SAMPLED}"
    if traceparent:
        headers["traceparent"] = traceparent
    request_id = request_id_var.get()
    if request_id and request_id != "-":
        headers[REQUEST_ID_HEADER] = request_id
    return headers


def consumer_span(event_type: str, trace_id: str) -> telemetry.Span | None:
    return telemetry.start_span(
        f"consume {event_type}",
        service=service_name(),
        kind="consumer",
        trace_id=trace_id,
        attributes={"messaging.destination.name": event_type},
    )
