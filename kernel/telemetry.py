"""OpenTelemetry spans for every hop (the gateway, the monolith, each service, each consumer), exported with
the OpenTelemetry SDK over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads the standard
OTEL_* variables: endpoint, headers, OTEL_SERVICE_NAME, sampling). Without it nothing of OpenTelemetry is
imported and `start_span` returns None at the cost of one attribute read: off at no cost.

A span continues the caller's W3C trace (its traceparent, or only a trace id for an event, whose envelope
carries no parent span) and its own span id becomes the parent-id this hop sends on, so the trace ids in the
JSON logs, the traceparent headers and the exported spans are one and the same.
"""

from __future__ import annotations

import os
import threading
from typing import Any

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
KINDS = ("server", "client", "consumer", "producer", "internal")

_lock = threading.Lock()
_state: dict[str, Any] = {"pid": None, "tracer": None}


def enabled() -> bool:
    return bool(os.environ.get(ENDPOINT_ENV))


def _tracer(service: str):
    """The process's tracer, built on first use (after a fork: gunicorn workers get their own exporter)."""
    if _state["pid"] == os.getpid():
        return _state["tracer"]
    with _lock:
        if _state["pid"] != os.getpid():
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            name = os.environ.get("OTEL_SERVICE_NAME") or service
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _state.update(pid=os.getpid(), tracer=provider.get_tracer("strangler"), provider=provider)
    return _state["tracer"]


def use_provider(provider, pid: int | None = None) -> None:
    """Tests: record into this TracerProvider (e.g. with the SDK's InMemorySpanExporter)."""
    with _lock:
        _state.update(pid=pid or os.getpid(), tracer=provider.get_tracer("strangler"), provider=provider)


def reset() -> None:
    with _lock:
        _state.update(pid=None, tracer=None, provider=None)


def flush(timeout_ms: int = 5000) -> None:
    provider = _state.get("provider")
    if provider is not None and _state["pid"] == os.getpid():
        provider.force_flush(timeout_ms)


class Span:
    """One started span: `traceparent` is what this hop sends on; call end() once."""

    __slots__ = ("_span", "traceparent")

    def __init__(self, span, traceparent: str) -> None:
        self._span = span
        self.traceparent = traceparent

    def set(self, key: str, value: Any) -> None:
        self._span.set_attribute(key, value)

    def end(self, *, error: str | None = None, status_code: int | None = None) -> None:
        from opentelemetry.trace import Status, StatusCode

        if status_code is not None:
            self._span.set_attribute("http.response.status_code", status_code)
        if error or (status_code is not None and status_code >= 500):
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end()


def _parent_context(traceparent: str | None, trace_id: str | None):
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    if traceparent:
        return TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    if trace_id:  # an event: its trace, under a parent we cannot know
        parent = trace.SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int.from_bytes(os.urandom(8), "big") or 1,
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(parent))
    return None


def start_span(
    name: str,
    *,
    service: str,
    kind: str = "server",
    traceparent: str | None = None,
    trace_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> Span | None:
    """Start a span continuing `traceparent` (or `trace_id`); None when export is off."""
    if not os.environ.get(ENDPOINT_ENV) and _state["tracer"] is None:
        return None
    from opentelemetry.trace import SpanKind

    tracer = _tracer(service)
    span = tracer.start_span(
        name,
        context=_parent_context(traceparent, trace_id),
        kind=getattr(SpanKind, kind.upper()),
        attributes=attributes or {},
    )
    context = span.get_span_context()
    flags = "01" if context.trace_flags.sampled else "00"
    return Span(span, f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}")
