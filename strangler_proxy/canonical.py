"""The canonical request: what the gateway decides on is exactly what it forwards.

Pure functions, applied once by RequestGuard before any other addon looks at the request:
- the request target: origin-form `path[?query]` of visible ASCII, no fragment (a raw `#` is refused:
  RFC 9112's request-target has none, and a server that drops it would serve another path than the one
  routed), the path refused when it could look different to the gateway and an upstream (routes.route_path);
  absolute-form is reduced to origin-form, its authority becoming the Host;
- header fields: names are tokens, values hold no CR, LF or NUL (an obs-fold line is refused, RFC 9112 5.2);
  an HTTP/1.1 request carries exactly one Host (RFC 9112 3.2), a well-formed host[:port];
- hop-by-hop fields (Connection and what it lists, Keep-Alive, TE, Trailer, Proxy-*, Upgrade) are the
  gateway's business, never an upstream's: dropped, except Upgrade on a route marked `websocket: true`;
- X-Forwarded-For/-Host/-Proto (and Forwarded, X-Real-IP) are the gateway's own values, never the client's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from strangler_proxy.routes import UnsafePath, route_path

FORWARDED_FOR, FORWARDED_HOST, FORWARDED_PROTO = "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"
# Client-sent fields that claim something about the client or the edge: replaced by the gateway's.
CLIENT_CLAIMS = frozenset(
    {"forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port",
     "x-forwarded-prefix", "x-forwarded-server", "x-real-ip"}
)  # fmt: skip
HOP_BY_HOP = frozenset(
    {
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    }
)
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_TARGET = re.compile(r"[\x21-\x7e]+")  # visible ASCII only
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                   r"[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")  # fmt: skip


class Refused(ValueError):
    """The request cannot be made canonical: `code` for the 400 body."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Target:
    """The request target as forwarded (`raw`: path and query, byte for byte) and the decoded path routes
    are matched against."""

    raw: str
    path: str
    query: str
    route_path: str


def canonical_target(raw: str) -> Target:
    """`raw` (origin-form path[?query]) as the Target forwarded upstream (an empty query dropped, as the
    upstream client would drop it); Refused when it has a fragment,
    characters outside visible ASCII or a path that is not safe to route (see routes.route_path)."""
    if "#" in raw:
        raise Refused("bad_request_target", "A request target has no fragment ('#').")
    if not raw or not _TARGET.fullmatch(raw):
        raise Refused("bad_request_path", "The request target holds characters that are not allowed.")
    path, _, query = raw.partition("?")
    try:
        decoded = route_path(path)
    except UnsafePath as exc:
        raise Refused("bad_request_path", str(exc)) from None
    return Target(f"{path}?{query}" if query else path, path, query, decoded)  # "/a?" is "/a"


def header_problem(fields: tuple[tuple[bytes, bytes], ...]) -> str | None:
    """What is wrong with the header block, or None."""
    for name, value in fields:
        if not _TOKEN.fullmatch(name):
            return f"the header name {name[:40]!r} is not a token"
        if _BAD_VALUE.search(value):
            return f"the {name[:40].decode('latin-1')} header holds a line break (obs-fold) or NUL"
    return None


def valid_host(host: str) -> bool:
    return bool(_HOST.fullmatch(host)) and (":" not in host.rsplit("]", 1)[-1] or _port_ok(host))


def _port_ok(host: str) -> bool:
    return 0 < int(host.rsplit(":", 1)[1]) <= 65535


def connection_tokens(values: list[str]) -> set[str]:
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}
