"""RequestGuard addon: makes the request canonical (canonical.py) and refuses, from the gateway itself and
before anything is forwarded or looked up, requests no well-behaved client sends: an unknown HTTP version,
an oversized request target or header block, a malformed or folded header, a missing or doubled Host, a
fragment or a path that tries to leave its place. What it lets through is what every later addon decides
on and what the Forwarder sends: the same target, hop-by-hop fields dropped (Upgrade kept aside for the
Router: only a `websocket: true` route gets it back), X-Forwarded-For/-Host/-Proto the gateway's own.

The head itself is bounded while it is read (connection_limits.py); the limits here bound what reaches
the upstreams.
"""

from __future__ import annotations

from mitmproxy import ctx, exceptions, http

from strangler_proxy.canonical import (
    CLIENT_CLAIMS,
    FORWARDED_FOR,
    FORWARDED_HOST,
    FORWARDED_PROTO,
    HOP_BY_HOP,
    Refused,
    Target,
    canonical_target,
    connection_tokens,
    header_problem,
    valid_host,
)
from strangler_proxy.gateway_errors import answer, error_response

PATH_KEY = "strangler.path"  # the decoded path routes are matched against (Router reads it)
TARGET_KEY = "strangler.target"  # the canonical.Target forwarded upstream
UPGRADE_KEY = "strangler.upgrade"  # the client's Upgrade value, taken off the request (Router may restore)
_KEPT_CONNECTION_TOKENS = ("close", "keep-alive")  # mitmproxy's client connection handling reads them
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

    def running(self) -> None:
        # The client's Host is needed (X-Forwarded-Host, the Host rule); mitmproxy's reverse mode would
        # replace it by the upstream's before any hook. Router's rewrite_to sets the upstream's Host.
        # Set here, once started: an options update inside configure would configure every addon again.
        if getattr(ctx.options, "keep_host_header", True) is False:
            ctx.options.update(keep_host_header=True)

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
        request = flow.request
        refusal = self.refusal(request)
        if refusal is not None:
            answer(flow, refusal)
            return
        problem = header_problem(request.headers.fields)
        if problem is not None:
            answer(flow, error_response(400, "malformed_header", f"Refused: {problem}."))
            return
        host = _host(request)
        if isinstance(host, http.Response):
            answer(flow, host)
            return
        try:
            target = canonical_target(request.path)
        except Refused as exc:
            answer(flow, error_response(400, exc.code, exc.message))
            return
        if target.raw != request.path:
            request.path = target.raw
        flow.metadata[TARGET_KEY] = target
        flow.metadata[PATH_KEY] = target.route_path
        _drop_hop_by_hop(flow)
        _set_forwarded(flow, host)

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


def request_target(flow: http.HTTPFlow) -> Target:
    """The canonical target RequestGuard decided (computed here when it did not run); raises Refused."""
    target = flow.metadata.get(TARGET_KEY)
    if target is None:
        target = flow.metadata[TARGET_KEY] = canonical_target(flow.request.path)
        flow.metadata[PATH_KEY] = target.route_path
    return target


def _host(request: http.Request) -> str | http.Response | None:
    """The host the client asked for (an absolute-form target's authority becomes the Host, RFC 9112
    3.2.2), or the 400 to answer. HTTP/1.1 needs exactly one Host; HTTP/1.0 may have none."""
    if request.is_http2 or request.is_http3:
        host = request.authority or request.headers.get("host")
    else:
        if request.data.authority:  # absolute-form: forwarded in origin-form, its authority the Host
            request.headers["Host"] = request.data.authority.decode("ascii", "replace")
            request.data.authority = b""
        hosts = request.headers.get_all("host")
        if len(hosts) > 1:
            return error_response(400, "bad_host", "The request has more than one Host.")
        if not hosts and request.http_version == "HTTP/1.1":
            return error_response(400, "bad_host", "An HTTP/1.1 request needs a Host.")
        host = hosts[0] if hosts else None
    if host is not None and not valid_host(host):
        return error_response(400, "bad_host", "The Host is not a valid host[:port].")
    return host


def _drop_hop_by_hop(flow: http.HTTPFlow) -> None:
    """Hop-by-hop fields and the ones Connection lists go; Connection keeps only close/keep-alive (what
    mitmproxy's own client connection honours); Upgrade is kept aside in flow.metadata[UPGRADE_KEY]."""
    headers = flow.request.headers
    listed = connection_tokens(headers.get_all("connection")) if "connection" in headers else set()
    upgrade = headers.get("upgrade")
    if upgrade is not None:
        flow.metadata[UPGRADE_KEY] = upgrade
    framing = {"transfer-encoding", "content-length", "host", "connection"}
    for name in {name.lower() for name in headers}:
        if name in HOP_BY_HOP or (name in listed and name not in framing):
            del headers[name]
    if listed:
        kept = [token for token in _KEPT_CONNECTION_TOKENS if token in listed]
        if kept:
            headers["Connection"] = ", ".join(kept)
        else:
            del headers["Connection"]


def _set_forwarded(flow: http.HTTPFlow, host: str | None) -> None:
    headers = flow.request.headers
    for name in {name.lower() for name in headers} & CLIENT_CLAIMS:
        del headers[name]
    peer = flow.client_conn.peername
    if peer:
        headers[FORWARDED_FOR] = peer[0].removeprefix("::ffff:")
    if host is not None:
        headers[FORWARDED_HOST] = host
    headers[FORWARDED_PROTO] = "https" if flow.client_conn.tls_established else "http"
