"""One DRF exception handler: every error leaves as {"code", "message", "extra"}."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from contracts.errors import ApplicationError

log = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_body(code: str, message: str, extra: dict | None = None) -> dict:
    return {"code": code, "message": message, "extra": extra or {}}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        # RFC 9110: a 401 names the scheme the client should use.
        headers = {"WWW-Authenticate": 'Token realm="api"'} if exc.status_code == 401 else {}
        if getattr(exc, "retry_after", None) is not None:  # e.g. 423 account_locked (chassis.lockout)
            headers["Retry-After"] = str(exc.retry_after)
        return Response(error_body(exc.code, exc.message, exc.extra), status=exc.status_code, headers=headers)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.messages)

    if isinstance(exc, exceptions.ValidationError):
        set_rollback()
        return Response(
            error_body("validation_error", "The request did not pass validation", {"fields": exc.detail}),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), exc.default_code)
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else exc.default_detail
        return Response(error_body(code, str(message)), status=exc.status_code, headers=headers)
    return None  # a real bug: let Django log it and answer 500
