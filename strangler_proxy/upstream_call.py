"""One call from the gateway to one upstream through the pooled aiohttp client: the request as the client
sent it (minus hop-by-hop headers), the answer buffered into a mitmproxy Response, or why there is none.

The Forwarder (forwarding.py) wraps each call in the route's bulkhead and breaker and decides on fallback;
this module only talks HTTP.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import aiohttp
from mitmproxy import http
from yarl import URL

from strangler_proxy.routes import Upstream

logger = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # may be sent twice (large answers)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = HOP_BY_HOP | {"host", "content-length"}  # the client computes both
_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
# aiohttp adds these when absent; the upstream must see only what the client sent.
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


@dataclass(slots=True)
class Attempt:
    """One call to one upstream: its answer, or why there is none."""

    upstream: Upstream
    response: http.Response | None = None
    reason: str | None = None  # None: a good answer
    reached: bool = True  # did the upstream possibly receive the request?
    retry_after: float | None = None
    passthrough: bool = False  # the answer is too large: mitmproxy forwards the request itself

    @property
    def failed(self) -> bool:
        return self.reason is not None


def pooled_session(keepalive: float) -> aiohttp.ClientSession:
    """The one client session of a worker: warm keep-alive connections per upstream, shared by all
    clients; nothing of one client (cookies, decoding, auto headers) leaks into another's request."""
    connector = aiohttp.TCPConnector(
        limit=0,  # the bulkheads bound concurrency
        keepalive_timeout=keepalive,
        ttl_dns_cache=300,
    )
    return aiohttp.ClientSession(
        connector=connector,
        auto_decompress=False,  # bodies go through byte for byte
        cookie_jar=aiohttp.DummyCookieJar(),  # never share one client's cookies with another
        skip_auto_headers=_SKIP_AUTO_HEADERS,
        trust_env=False,
        requote_redirect_url=False,
    )


async def send(
    session: aiohttp.ClientSession,
    request: http.Request,
    upstream: Upstream,
    timeout: aiohttp.ClientTimeout,
    *,
    buffer_limit: int,
    failure_statuses: frozenset[int],
) -> Attempt:
    """Send `request` to `upstream`; an answer larger than `buffer_limit` to a safe method is abandoned
    (Attempt.passthrough: mitmproxy sends the request again and streams the answer)."""
    method = request.method
    headers = [
        (name, value)
        for name, value in request.headers.items(multi=True)
        if name.lower() not in _NOT_FORWARDED
    ]
    body = request.raw_content
    try:
        async with session.request(
            method,
            URL(upstream.url + request.path, encoded=True),
            headers=headers,
            data=body if body or method not in SAFE_METHODS else None,
            timeout=timeout,
            allow_redirects=False,
        ) as upstream_response:
            timestamp_start = time.time()
            status = upstream_response.status
            raw = await read_body(upstream_response, method, buffer_limit)
            if raw is None:  # too large to buffer: mitmproxy forwards the request itself
                failed = status in failure_statuses
                return Attempt(
                    upstream, reason=f"status_{status}" if failed else None, passthrough=not failed
                )
            response = http.Response(
                request.data.http_version,
                status,
                (upstream_response.reason or "").encode("latin-1", "replace"),
                response_headers(upstream_response.raw_headers, raw, method),
                raw,
                None,
                timestamp_start,
                time.time(),
            )
    except aiohttp.ConnectionTimeoutError:
        return Attempt(upstream, reason="connect_timeout", reached=False)
    except aiohttp.ClientConnectorError:
        return Attempt(upstream, reason="connect_failed", reached=False)
    except TimeoutError:
        return Attempt(upstream, reason="timeout")
    except aiohttp.ClientError as exc:
        logger.debug("upstream %s: %r", upstream.name, exc)
        return Attempt(upstream, reason="disconnected")
    if status in failure_statuses:
        return Attempt(upstream, response=response, reason=f"status_{status}")
    return Attempt(upstream, response=response)


async def read_body(upstream_response: aiohttp.ClientResponse, method: str, limit: int) -> bytes | None:
    """The whole body, or None when it is larger than `limit` and the request may be sent again."""
    if method == "HEAD" or upstream_response.status in (204, 304) or upstream_response.status < 200:
        return b""
    resendable = method in SAFE_METHODS
    length = upstream_response.content_length
    if length is not None:
        if length > limit and resendable:
            upstream_response.close()
            return None
        return await upstream_response.read()
    chunks: list[bytes] = []
    size = 0
    async for chunk in upstream_response.content.iter_any():
        size += len(chunk)
        if size > limit and resendable:
            upstream_response.close()
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def response_headers(raw_headers, body: bytes, method: str) -> http.Headers:
    """The upstream's headers minus hop-by-hop ones (and those its Connection header names); repeated
    headers (Set-Cookie) stay as they are. A body read from a chunked answer gets its Content-Length."""
    connection_listed: frozenset[bytes] = frozenset()
    has_length = False
    fields = []
    for name, value in raw_headers:
        lower = name.lower()
        if lower == b"connection":
            connection_listed = frozenset(token.strip().lower() for token in value.split(b","))
            continue
        if lower in _HOP_BY_HOP_BYTES:
            continue
        if lower == b"content-length":
            has_length = True
        fields.append((name, value))
    if connection_listed:
        fields = [(n, v) for n, v in fields if n.lower() not in connection_listed]
    if not has_length and method != "HEAD":
        fields.append((b"Content-Length", str(len(body)).encode()))
    return http.Headers(fields)
