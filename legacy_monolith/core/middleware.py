"""Request id propagation and a body-size guard, ahead of every view."""

import uuid

from django.conf import settings
from django.http import JsonResponse

from .exceptions import error_body
from .logging import request_id_var
from .request_ids import SAFE_REQUEST_ID as _SAFE_REQUEST_ID


class RequestIdMiddleware:
    """Take X-Request-ID from the caller when it is sane, else mint one; echo it on the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
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
