"""Answers the gateway gives by itself, in the monolith's error shape: {"code", "message", "extra"}."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mitmproxy import http


def error_response(
    status: int, code: str, message: str, extra: Mapping[str, Any] | None = None
) -> http.Response:
    """A JSON error response. Tracing adds X-Request-ID to it like to any other response."""
    body = json.dumps({"code": code, "message": message, "extra": dict(extra or {})}).encode()
    return http.Response.make(status, body, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def answer(flow: http.HTTPFlow, response: http.Response) -> None:
    """Answer a flow from the gateway. A request body that mitmproxy was told to stream cannot coexist
    with a gateway answer, so streaming is switched off (the body is read and discarded)."""
    flow.request.stream = False
    flow.response = response
