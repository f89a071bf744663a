"""X-Forwarded-For/-Host/-Proto, believed only from the gateway.

The gateway replaces whatever a client sent in these fields with its own values (strangler_proxy/guard.py).
Behind it, the monolith and every service run ForwardedHeadersMiddleware first: when the TCP peer
(REMOTE_ADDR) is one of TRUSTED_PROXIES (CIDRs; default the loopback addresses the gateway calls from), the
request takes the gateway's values, so the usual Django accessors give the client's view:

- `request.META["REMOTE_ADDR"]`: the client's address (the last X-Forwarded-For entry, the one the
  gateway wrote); the gateway's own address stays in `request.META["FORWARDED_BY"]`;
- `request.get_host()`: X-Forwarded-Host (still checked against ALLOWED_HOSTS by Django);
- `request.scheme` / `request.is_secure()` / `request.build_absolute_uri()`: X-Forwarded-Proto.

From any other peer the fields are removed unread, so nothing later in the request can trust a client's
claim. Forwarded and X-Real-IP are removed always (the gateway never sends them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings

DEFAULT_TRUSTED_PROXIES = "127.0.0.1/32,::1/128"
_FORWARDED_FOR, _FORWARDED_HOST, _FORWARDED_PROTO = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PROTO",
)
_CLAIMS = (
    _FORWARDED_FOR,
    _FORWARDED_HOST,
    _FORWARDED_PROTO,
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_FORWARDED",
    "HTTP_X_REAL_IP",
)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted_proxies(spec: str) -> tuple[Network, ...]:
    """`127.0.0.1/32,::1/128` -> networks; ValueError names the bad entry."""
    networks = []
    for part in filter(None, (item.strip() for item in spec.split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {part!r} is not an address or a network") from None
    return tuple(networks)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address((text or "").strip().removeprefix("::ffff:"))
    except ValueError:
        return None


def trusted(peer: str | None, networks: Iterable[Network]) -> bool:
    address = _address(peer)
    return address is not None and any(address in network for network in networks)


class ForwardedHeadersMiddleware:
    """See the module docstring. Put it first in MIDDLEWARE: everything after it sees the client's view."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.networks = parse_trusted_proxies(getattr(settings, "TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES))

    def __call__(self, request):
        meta = request.META
        claims = {key: meta.pop(key) for key in _CLAIMS if key in meta}
        if claims and trusted(meta.get("REMOTE_ADDR"), self.networks):
            client = _address(claims.get(_FORWARDED_FOR, "").split(",")[-1])
            if client is not None:
                meta["FORWARDED_BY"] = meta.get("REMOTE_ADDR")
                meta["REMOTE_ADDR"] = str(client)
            host = claims.get(_FORWARDED_HOST, "").strip()
            if host and "," not in host:
                meta["HTTP_HOST"] = host
            proto = claims.get(_FORWARDED_PROTO, "").strip().lower()
            if proto in ("http", "https"):
                meta["wsgi.url_scheme"] = proto
        return self.get_response(request)
