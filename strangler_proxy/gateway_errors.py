"""Answers the gateway gives by itself, in the monolith's error shape: {"code", "message", "extra"}.

A request the gateway answers in its request-headers hooks (health, a refusal, a 404 of ops.internal) may
still have a body on the wire. mitmproxy would buffer it, and once it passes `stream_large_bodies` try to
stream it, which it cannot do for a flow that already has a response: "Can't set a response and enable
streaming at the same time", a crash traceback per request and the connection dropped. `install()` makes
mitmproxy 12's HTTP stream read such a body and drop it as it arrives (memory stays flat whatever its
size), then send the gateway's answer as usual.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mitmproxy import http
from mitmproxy.proxy.layers import http as http_layers

_HttpStream = http_layers.HttpStream
_original_consume_request_body = _HttpStream.state_consume_request_body


def error_response(
    status: int, code: str, message: str, extra: Mapping[str, Any] | None = None
) -> http.Response:
    """A JSON error response. Tracing adds X-Request-ID to it like to any other response."""
    body = json.dumps({"code": code, "message": message, "extra": dict(extra or {})}).encode()
    return http.Response.make(status, body, {"Content-Type": "application/json", "Cache-Control": "no-store"})


def answer(flow: http.HTTPFlow, response: http.Response) -> None:
    """Answer a flow from the gateway. A request body that mitmproxy was told to stream cannot coexist
    with a gateway answer, so streaming is switched off (the body is read and dropped, see install())."""
    flow.request.stream = False
    flow.response = response


def _consume_request_body_of_answered(self, event):
    if isinstance(event, http_layers.RequestData) and self.flow.response is not None:
        return  # answered by the gateway before its body: the body is dropped, never buffered or streamed
    yield from _original_consume_request_body(self, event)


def install() -> None:
    """Idempotent; affects every HTTP stream of this process."""
    _HttpStream.state_consume_request_body = _consume_request_body_of_answered


def uninstall() -> None:
    _HttpStream.state_consume_request_body = _original_consume_request_body
