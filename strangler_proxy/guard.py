"""RequestGuard addon: refuses, from the gateway itself and before anything is forwarded or looked up,
requests no well-behaved client sends: an unknown HTTP version, an oversized request target or header
block, a path that tries to leave its place (see routes.route_path).

mitmproxy reads the whole request head before any hook runs and sets no limit of its own, so the header
limits here bound what reaches the upstreams, not what the gateway buffers.
"""

from __future__ import annotations

from mitmproxy import ctx, exceptions, http

from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.routes import UnsafePath, route_path

PATH_KEY = "strangler.path"  # the decoded path routes are matched against (Router reads it)
HTTP_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/3"})


class RequestGuard:
    """Options: strangler_max_header_bytes (32 KiB), strangler_max_headers (100, as gunicorn),
    strangler_max_target_bytes (8 KiB)."""

    def __init__(self) -> None:
        self.max_header_bytes = 32 * 1024
        self.max_headers = 100
        self.max_target_bytes = 8 * 1024

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_max_header_bytes", int, 32 * 1024, "Largest request header block (names + values)."
        )
        loader.add_option("strangler_max_headers", int, 100, "Most request header fields.")
        loader.add_option(
            "strangler_max_target_bytes", int, 8 * 1024, "Longest request target (path + query)."
        )

    def configure(self, updated: set[str]) -> None:
        names = ("strangler_max_header_bytes", "strangler_max_headers", "strangler_max_target_bytes")
        if not updated.intersection(names):
            return
        for name in names:
            if getattr(ctx.options, name) < 1:
                raise exceptions.OptionsError(f"{name} must be at least 1")
        self.max_header_bytes = ctx.options.strangler_max_header_bytes
        self.max_headers = ctx.options.strangler_max_headers
        self.max_target_bytes = ctx.options.strangler_max_target_bytes

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response:
            return
        refusal = self.refusal(flow.request)
        if refusal is not None:
            answer(flow, refusal)
            return
        try:
            flow.metadata[PATH_KEY] = route_path(flow.request.path)
        except UnsafePath as exc:
            answer(flow, error_response(400, "bad_request_path", str(exc)))

    def refusal(self, request: http.Request) -> http.Response | None:
        if request.http_version not in HTTP_VERSIONS:
            return error_response(
                400, "unsupported_http_version", f"{request.http_version[:20]!r} is not supported"
            )
        if len(request.data.path) > self.max_target_bytes:
            return error_response(
                414, "uri_too_long", "The request target is too long.", {"limit_bytes": self.max_target_bytes}
            )
        fields = request.headers.fields
        if len(fields) > self.max_headers:
            return error_response(
                431, "request_header_fields_too_large", "Too many header fields.", {"limit": self.max_headers}
            )
        size = sum(len(name) + len(value) + 4 for name, value in fields)
        if size > self.max_header_bytes:
            return error_response(
                431,
                "request_header_fields_too_large",
                "The request's header fields are too large.",
                {"limit_bytes": self.max_header_bytes},
            )
        return None
