"""mitmproxy answers HTTP/1 protocol errors itself, before any addon sees a flow (a bad request line,
CL+TE, a duplicate Content-Length, a CONNECT in reverse mode, an upstream it cannot reach), with an HTML
page that names mitmproxy; and when a request BODY is malformed (bad chunked framing) it closes the client
connection without answering at all. `install()` makes both answer the gateway's JSON error body, 400.

Both are patches of mitmproxy 12's HTTP/1 layer (module `mitmproxy.proxy.layers.http._http1`), kept here
in one place; the gateway's tests fail if a mitmproxy upgrade changes what they rely on.
"""

from __future__ import annotations

import json

from mitmproxy import http
from mitmproxy.net.http import http1, status_codes
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1

CODES = {
    400: "malformed_request",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    431: "request_header_fields_too_large",
    502: "bad_gateway",
    504: "gateway_timeout",
}
_original_error_response = _http1.make_error_response
_original_read_body = _http1.Http1Server.read_body


def error_response_bytes(status_code: int, message: str = "") -> bytes:
    """The wire bytes of a JSON error response that closes the connection, like mitmproxy's own."""
    body = {
        "code": CODES.get(status_code, "gateway_error"),
        "message": (message or status_codes.RESPONSES.get(status_code, "Error")).replace(
            "mitmproxy", "the gateway"
        ),
        "extra": {},
    }
    response = http.Response.make(
        status_code,
        json.dumps(body).encode(),
        {"Content-Type": "application/json", "Connection": "close", "Cache-Control": "no-store"},
    )
    return http1.assemble_response(response)


def _read_body_answering_errors(self: _http1.Http1Server, event: events.Event):
    """Http1Server.read_body, but a request body that breaks HTTP/1 framing gets a 400 before the
    connection is closed (mitmproxy's own read_body only closes it). The only CloseConnection read_body
    yields before the response is done is the one of that error path. A chunked body with trailers, which
    mitmproxy 12 raises NotImplementedError on (the client then waited forever), gets a 400 too."""
    inner = _original_read_body(self, event)
    try:
        command = next(inner)
        while True:
            if (
                isinstance(command, commands.CloseConnection)
                and command.connection is self.conn
                and isinstance(event, events.DataReceived)
                and not self.response_done
            ):
                yield commands.SendData(self.conn, error_response_bytes(400, "malformed request body"))
            command = inner.send((yield command))
    except StopIteration as stop:
        return stop.value
    except NotImplementedError:  # mitmproxy 12 cannot take a chunked body with trailers: refuse it
        yield commands.SendData(self.conn, error_response_bytes(400, "request trailers are not supported"))
        yield commands.CloseConnection(self.conn)
        self.state = self.done


def install() -> None:
    """Idempotent; affects the whole process (every HTTP/1 client connection of this mitmproxy)."""
    _http1.make_error_response = error_response_bytes
    _http1.Http1Server.read_body = _read_body_answering_errors


def uninstall() -> None:
    _http1.make_error_response = _original_error_response
    _http1.Http1Server.read_body = _original_read_body
