"""JSON errors outside DRF, whatever DEBUG is: the handler views (handler400/403/404/500 of every urlconf,
used when DEBUG is off) and JsonErrorsMiddleware, which replaces Django's HTML debug pages (DEBUG on: the
technical 404 that lists the project's URLs and the technical 500 with its traceback) and the empty body of
a plain view's 405 by the standard `{"code", "message", "extra"}` body.

Django still logs a 500 and sends `got_request_exception` as usual; only the body the client sees changes.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse

from chassis.exceptions import error_body

JSON = "application/json"


def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("not_found", f"No route for {request.path}"), status=404)


def server_error(request) -> JsonResponse:
    return JsonResponse(error_body("internal_error", "Unexpected server error"), status=500)


def bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request"), status=400)


def permission_denied(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "Permission denied"), status=403)


def method_not_allowed(request, allowed: str) -> JsonResponse:
    body = error_body(
        "method_not_allowed",
        f'Method "{request.method}" not allowed.',
        {"allowed": [m.strip() for m in allowed.split(",") if m.strip()]},
    )
    response = JsonResponse(body, status=405)
    response["Allow"] = allowed
    return response


class JsonErrorsMiddleware:
    """Outermost middleware: a 404 or 500 that is not JSON (Django's debug pages) and a 405 without a body
    leave as the standard error body, with the same status (and `Allow` for a 405)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        status = response.status_code
        if status not in (404, 405, 500) or _is_json(response):
            return response
        if status == 405:
            if getattr(response, "streaming", False) or response.content.strip():
                return response
            replaced = method_not_allowed(request, response.get("Allow", ""))
        elif status == 404:
            replaced = not_found(request)
        else:
            replaced = server_error(request)
        for header in ("X-Request-ID", "Vary"):
            if header in response:
                replaced[header] = response[header]
        # outermost, so CommonMiddleware's Content-Length does not reach it: without one, gunicorn would chunk
        # the body (and the gateway, which buffers, would answer with a length: not the same headers)
        replaced["Content-Length"] = str(len(replaced.content))
        # Django logs a 5xx once per response object; the original was logged (with its traceback)
        replaced._has_been_logged = getattr(response, "_has_been_logged", False)
        return replaced


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == JSON or content_type.endswith("+json")
