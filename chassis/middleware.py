"""Request id and trace context propagation, a body-size guard and HEAD bodies, ahead of every view.

Shared by the monolith (legacy_monolith.core.middleware re-exports these) and the services.
"""

from django.conf import settings
from django.http import JsonResponse

from chassis.exceptions import error_body
from chassis.logging import request_id_var, trace_id_var
from chassis.tracing import service_name, traceparent_var
from contracts.tracecontext import (
    REQUEST_ID_HEADER,
    SAMPLED,
    new_span_id,
    new_trace_id,
    parse_traceparent,
    request_id_or_new,
)
from kernel import telemetry


class RequestIdMiddleware:
    """Take X-Request-ID and traceparent from the caller when valid, else mint new ones; expose them to
    logs (context vars) and to views (`request.request_id`, `request.trace_id`, `request.traceparent` =
    this hop's span, to forward on outgoing calls); echo X-Request-ID on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_or_new(request.headers.get(REQUEST_ID_HEADER))
        parent = parse_traceparent(request.headers.get("traceparent"))
        trace_id, flags = (parent[0], parent[2]) if parent else (new_trace_id(), SAMPLED)
        span = telemetry.start_span(
            f"{request.method} {request.path}",
            service=service_name(),
            traceparent=request.headers.get("traceparent") if parent else None,
            trace_id=None if parent else trace_id,
            attributes={"http.request.method": request.method, "url.path": request.path},
        )
        request.request_id = request_id
        request.trace_id = trace_id
        request.traceparent = span.traceparent if span else f"00-{trace_id}-{new_span_id()}-{flags}"
        request_token = request_id_var.set(request_id)
        trace_token = trace_id_var.set(trace_id)
        parent_token = traceparent_var.set(request.traceparent)
        response = None
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(request_token)
            trace_id_var.reset(trace_token)
            traceparent_var.reset(parent_token)
            if span is not None:
                span.end(status_code=response.status_code if response is not None else 500)
        response[REQUEST_ID_HEADER] = request_id
        return response


class BodySizeLimitMiddleware:
    """Refuse bodies above MAX_REQUEST_BODY_BYTES with a 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(error_body("malformed_request", "Content-Length is not a number"), status=400)
        limit = settings.MAX_REQUEST_BODY_BYTES
        if length > limit:
            return JsonResponse(
                error_body(
                    "payload_too_large",
                    f"Request body exceeds {limit} bytes",
                    {"limit_bytes": limit, "content_length": length},
                ),
                status=413,
            )
        return self.get_response(request)


class HeadResponseMiddleware:
    """A HEAD answer has GET's headers and no body (RFC 9110, 9.3.2). Django leaves dropping the body to
    the server and gunicorn sends it, so a keep-alive client (the gateway's pooled upstream connections)
    would read those bytes as the start of the next response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            length = len(response.content)
            response.content = b""
            response["Content-Length"] = str(length)
        return response
