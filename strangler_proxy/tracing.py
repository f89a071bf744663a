"""Tracing addon: every request leaves the gateway with an X-Request-ID and a W3C traceparent for this hop,
and every response goes back to the client with both.

- X-Request-ID: the client's when it is sane (the rule shared with the monolith and the services,
  contracts.tracecontext), else a new one.
- traceparent: a valid client traceparent keeps its trace id and flags; the gateway is a new span in that
  trace (new parent-id upstream). Absent or invalid: a new trace, and the client's tracestate is dropped.
- OTEL_EXPORTER_OTLP_ENDPOINT set: the hop is also an OpenTelemetry span (kernel.telemetry), exported when
  the answer leaves; its span id is the parent-id sent upstream. Unset: nothing more is done.
"""

from __future__ import annotations

from mitmproxy import http

from contracts.tracecontext import (
    REQUEST_ID_HEADER,
    SAMPLED,
    new_span_id,
    new_trace_id,
    parse_traceparent,
    request_id_or_new,
)
from kernel import telemetry
from strangler_proxy.routes import TraceContext

__all__ = [
    "REQUEST_ID_HEADER",
    "SAMPLED",
    "TRACE_KEY",
    "Tracing",
    "new_span_id",
    "new_trace_id",
    "parse_traceparent",
    "trace_context",
]

TRACE_KEY = "strangler.trace"
SPAN_KEY = "strangler.span"


def trace_context(request_id_header: str | None, traceparent_header: str | None) -> tuple[TraceContext, bool]:
    """This hop's TraceContext from the client's headers, and whether the client's trace was kept."""
    request_id = request_id_or_new(request_id_header)
    parent = parse_traceparent(traceparent_header)
    trace_id, flags = (parent[0], parent[2]) if parent else (new_trace_id(), SAMPLED)
    span_id = new_span_id()
    traceparent = f"00-{trace_id}-{span_id}-{flags}"
    return TraceContext(request_id, trace_id, span_id, traceparent), parent is not None


class Tracing:
    """First addon of the chain: it also runs for requests the gateway answers itself (400, 404, 429)."""

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        headers = flow.request.headers
        trace, kept = trace_context(headers.get(REQUEST_ID_HEADER), headers.get("traceparent"))
        # OTEL_EXPORTER_OTLP_ENDPOINT set: this hop is an exported span, whose id is the parent upstream
        span = telemetry.start_span(
            f"{flow.request.method} {flow.request.path.split('?', 1)[0]}",
            service="gateway",
            traceparent=headers.get("traceparent") if kept else None,
            trace_id=None if kept else trace.trace_id,
            attributes={"http.request.method": flow.request.method},
        )
        if span is not None:
            span_id = span.traceparent.split("-")[2]
            trace = TraceContext(trace.request_id, trace.trace_id, span_id, span.traceparent)
            flow.metadata[SPAN_KEY] = span
        flow.metadata[TRACE_KEY] = trace
        headers[REQUEST_ID_HEADER] = trace.request_id
        headers["traceparent"] = trace.traceparent
        if not kept and "tracestate" in headers:
            del headers["tracestate"]  # it belongs to a trace we did not continue

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        trace: TraceContext | None = flow.metadata.get(TRACE_KEY)
        if trace is None or flow.response is None:
            return
        flow.response.headers[REQUEST_ID_HEADER] = trace.request_id
        flow.response.headers["traceparent"] = trace.traceparent

    def response(self, flow: http.HTTPFlow) -> None:
        span = flow.metadata.pop(SPAN_KEY, None)
        if span is not None:
            route = flow.response.headers.get("X-Strangler-Route", "") if flow.response else ""
            span.set("strangler.route", route)
            span.end(status_code=flow.response.status_code if flow.response else None)

    def error(self, flow: http.HTTPFlow) -> None:
        span = flow.metadata.pop(SPAN_KEY, None)
        if span is not None:
            span.end(error=str(flow.error) if flow.error else "error")
