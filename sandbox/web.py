"""Request plumbing shared by the gateways' HTTP layers: JSON bodies, fingerprints, auth, responses."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request

from .state import Fault, Gateway, GatewayError

Action = Callable[[Fault], tuple[int, dict, tuple[str, str] | None]]


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise GatewayError("malformed_request", "The body must be a JSON object")
    return body


def fingerprint() -> str:
    """What makes two requests 'the same' for an idempotency key: method, path and canonical body."""
    body = request.get_json(silent=True)
    return f"{request.method} {request.path} {json.dumps(body, sort_keys=True, separators=(',', ':'))}"


def respond(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, mimetype="application/json")


def serve(gateway: Gateway, operation: str, presented_key: str | None, action: Action) -> Response:
    """Authenticate, then run `action` with the gateway's faults and Idempotency-Key handling."""
    expected = gateway.knobs.api_key
    if not presented_key or not hmac.compare_digest(presented_key.encode(), expected.encode()):
        return respond(*gateway.render_error(GatewayError("unauthorized", "Missing or wrong API key")))
    key = request.headers.get("Idempotency-Key") or None
    status, body, headers = gateway.handle(
        operation, action=action, idempotency_key=key, fingerprint=fingerprint() if key else ""
    )
    return respond(status, body, headers)


def required_str(body: dict, name: str, *, max_length: int = 200) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise GatewayError("invalid_request", f"{name} is required and must be a non-empty string")
    return value


def optional_str(body: dict, name: str, *, max_length: int = 200) -> str:
    value = body.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise GatewayError("invalid_request", f"{name} must be a string of at most {max_length} characters")
    return value


def currency(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise GatewayError("invalid_request", "currency must be a three-letter ISO 4217 code")
    return value.upper()
