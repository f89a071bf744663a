"""Tracing addon: every request leaves the gateway with an X-Request-ID and a W3C traceparent for this hop,
and every response goes back to the client with both.

- X-Request-ID: the client's when it is sane (the monolith's own rule, imported), else a new one.
- traceparent: a valid client traceparent keeps its trace id and flags; the gateway is a new span in that
  trace (new parent-id upstream). Absent or invalid: a new trace, and the client's tracestate is dropped.
"""

from __future__ import annotations

import os
import re
import uuid

from mitmproxy import http

from legacy_monolith.core.request_ids import SAFE_REQUEST_ID
from strangler_proxy.routes import TraceContext

TRACE_KEY = "strangler.trace"
REQUEST_ID_HEADER = "X-Request-ID"

# version-traceid-parentid-flags, lower-case hex (https://www.w3.org/TR/trace-context/#traceparent-header).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
SAMPLED = "01"


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace_id, parent_id, flags) of a valid traceparent, else None. Version ff is invalid; version 00
    allows nothing after the flags; later versions may append fields, which are ignored."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_SPAN_ID:
        return None
    return trace_id, parent_id, flags


def new_span_id() -> str:
    while (span := os.urandom(8).hex()) == _ZERO_SPAN_ID:  # pragma: no cover - 2**-64
        pass
    return span


def new_trace_id() -> str:
    while (trace := os.urandom(16).hex()) == _ZERO_TRACE_ID:  # pragma: no cover - 2**-128
        pass
    return trace


def trace_context(request_id_header: str | None, traceparent_header: str | None) -> tuple[TraceContext, bool]:
    """This hop's TraceContext from the client's headers, and whether the client's trace was kept."""
    incoming = request_id_header or ""
    request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
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
