"""Views exercising the chassis: an application error, an internal endpoint, a log line, a crash."""

import logging
import os

from django.http import JsonResponse
from django.views.decorators.http import require_GET
from rest_framework.decorators import api_view
from rest_framework.response import Response

from chassis.internal_auth import InternalAPIView
from chassis.internal_inputs import ChecksumsInput, DigestsInput, validated
from contracts.errors import ApplicationError, NotFoundError

log = logging.getLogger("chassis_service")


def probe_check() -> None:
    """A readiness check the tests can make fail: CHASSIS_PROBE_FILE names a file that must exist."""
    path = os.environ.get("CHASSIS_PROBE_FILE")
    if path and not os.path.exists(path):
        raise RuntimeError(f"{path} is missing")


@api_view(["GET"])
def widget(request, pk: int):
    log.info("widget looked up", extra={"widget_id": pk})
    if pk != 1:
        raise NotFoundError("widget", pk)
    http = request._request
    return Response({"id": 1, "request_id": http.request_id, "trace_id": http.trace_id, "pid": os.getpid()})


@api_view(["GET"])
def outbound(request):
    """What a call this request makes would carry (chassis.tracing.outbound_headers)."""
    from chassis.tracing import outbound_headers

    return Response(outbound_headers())


@api_view(["POST"])
def echo(request):
    if not isinstance(request.data, dict) or "name" not in request.data:
        raise ApplicationError("name_required", "name is required", extra={"field": "name"})
    return Response({"name": request.data["name"]})


class InternalPing(InternalAPIView):
    internal_callers = ("order_service",)  # over mutual TLS (tests/chassis/test_mutual_tls.py)

    def get(self, request):
        return Response({"pong": True})


class InternalVerifyChecksums(InternalAPIView):
    """Echoes the validated verify/checksums body (the chassis's service-neutral verify inputs)."""

    def post(self, request):
        return Response({"ranges": validated(ChecksumsInput, request)["ranges"]})


class InternalVerifyDigests(InternalAPIView):
    def post(self, request):
        return Response(validated(DigestsInput, request, max_bytes=64))


def crash(request):
    """A plain Django view with a bug: the chassis must still answer the standard JSON 500."""
    raise RuntimeError("a bug in a plain view")


@require_GET
def plain_get_only(request):
    """A plain Django view limited to GET: a POST gets Django's empty 405, which the chassis makes JSON."""
    return JsonResponse({"ok": True})


@api_view(["GET"])
def whoami(request):
    """What the request says about its client once the chassis' middleware ran (test_forwarded.py)."""
    http = request._request
    return Response(
        {
            "remote_addr": http.META.get("REMOTE_ADDR"),
            "forwarded_by": http.META.get("FORWARDED_BY"),
            "host": http.get_host(),
            "scheme": http.scheme,
            "secure": http.is_secure(),
            "absolute": http.build_absolute_uri("/x"),
            "claims": sorted(k for k in http.META if "FORWARDED" in k and k.startswith("HTTP_")),
        }
    )
