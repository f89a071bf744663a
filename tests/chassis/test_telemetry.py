"""One trace across hops, in process: the chassis middleware continues the caller's traceparent, records a
span with the SDK's in-memory exporter when telemetry is on, and the calls a request makes carry this hop's
span as their parent; a consumer's span continues the event's trace. Off (no OTEL_EXPORTER_OTLP_ENDPOINT):
no span, no OpenTelemetry import, the same headers."""

import subprocess
import sys

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from chassis.tracing import consumer_span, outbound_headers, traceparent_var
from contracts.tracecontext import parse_traceparent
from kernel import telemetry

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = f"00-{TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def exported():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry.use_provider(provider)
    yield exporter
    telemetry.reset()


def test_a_request_continues_the_callers_trace_and_its_calls_name_this_hops_span(client, exported):
    answer = client.get("/outbound", HTTP_TRACEPARENT=CALLER, HTTP_X_REQUEST_ID="req-42").json()
    (span,) = exported.get_finished_spans()
    assert format(span.context.trace_id, "032x") == TRACE
    assert format(span.parent.span_id, "016x") == "00f067aa0ba902b7"  # the caller's span
    assert span.kind.name == "SERVER"
    sent = parse_traceparent(answer["traceparent"])
    assert sent[0] == TRACE
    assert sent[1] == format(span.context.span_id, "016x")  # the next hop's parent is this span
    assert answer["X-Request-ID"] == "req-42"
    assert span.attributes["http.response.status_code"] == 200


def test_without_telemetry_no_span_is_made_and_the_trace_still_goes_on(client):
    assert telemetry.start_span("x", service="s") is None
    answer = client.get("/outbound", HTTP_TRACEPARENT=CALLER).json()
    assert parse_traceparent(answer["traceparent"])[0] == TRACE


def test_a_consumers_span_continues_the_events_trace(exported):
    span = consumer_span("catalog.product.upserted", TRACE)
    token = traceparent_var.set(span.traceparent)
    try:
        assert parse_traceparent(outbound_headers()["traceparent"])[0] == TRACE
    finally:
        traceparent_var.reset(token)
        span.end()
    (finished,) = exported.get_finished_spans()
    assert (format(finished.context.trace_id, "032x"), finished.kind.name) == (TRACE, "CONSUMER")


def test_telemetry_off_imports_nothing_of_opentelemetry():
    code = (
        "import os, sys; os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None)\n"
        "from kernel import telemetry\n"
        "assert telemetry.start_span('x', service='s') is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
