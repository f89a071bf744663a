"""The copies of a shadow route's request: who is mirrored (pure decisions), what a copy carries (headers,
the shadow marker, the rewritten Idempotency-Key), sending one copy and keeping its answer, and the
shadow metrics. The Shadow addon (shadow_capture.py) schedules the copies and builds the pair."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from dataclasses import dataclass, field

import aiohttp
from mitmproxy import http
from prometheus_client import Counter, Histogram
from yarl import URL

from contracts.identity import HEADER as IDENTITY_HEADER
from shadow.pairs import RESPONSE_HEADERS, Exchange, select_headers
from strangler_proxy.metrics import LATENCY_BUCKETS
from strangler_proxy.routes import ANONYMOUS, READ_METHODS, Route, ShadowOptions, Upstream
from strangler_proxy.routing import IDENTITY_KEY, SESSION_KEY

logger = logging.getLogger(__name__)

SHADOW_HEADER = "X-Strangler-Shadow"
# When the gateway received the mirrored request (Unix seconds): copies of one client request and of its
# replays can reach the target in any order, and the target tells the original from a replay by this time.
RECEIVED_HEADER = "X-Strangler-Shadow-Received"
IDEMPOTENCY_HEADER = "Idempotency-Key"
CAPTURE_KEY = "strangler.shadow"  # flow.metadata: the capture in flight (its task, the primary's answer)
DEV_KEY_SECRET = "strangler-shadow-dev-secret"  # development default; set SHADOW_KEY_SECRET elsewhere
_NOT_COPIED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        SHADOW_HEADER.lower(),
        RECEIVED_HEADER.lower(),
    }
)
SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_READ_CHUNK = 64 * 1024

MIRRORED = Counter("strangler_shadow_mirrored", "Requests mirrored on shadow routes.", ["route"])
SKIPPED = Counter(
    "strangler_shadow_skipped",
    "Requests on shadow routes not mirrored: flag_off, not_sampled, head, streamed, write_not_declared.",
    ["route", "reason"],
)
PUBLISHED = Counter("strangler_shadow_pairs_published", "Shadow pairs handed to the queue.", ["route"])
DROPPED = Counter(
    "strangler_shadow_pairs_dropped",
    "Shadow pairs lost: queue_full (the publish buffer) or publish_failed (the queue refused them).",
    ["reason"],
)
COPY_ERRORS = Counter(
    "strangler_shadow_copy_errors",
    "Mirrored copies without an answer, by reason (timeout, connect_failed, bulkhead_full, ...).",
    ["route", "role", "reason"],
)
COPY_LATENCY = Histogram(
    "strangler_shadow_copy_duration_seconds",
    "Time a mirrored copy took (answered or not), by route and role (candidate, candidate2, secondary).",
    ["route", "role"],
    buckets=LATENCY_BUCKETS,
)


# --- pure decisions -------------------------------------------------------------------------------------


def is_write(method: str) -> bool:
    return method not in READ_METHODS


def sampled(route_id: str, sticky_key: str | None, percent: float) -> bool:
    """Is this user (sticky_key) in the route's `percent` sample? The same key always gets the same answer
    for a route; no key: a coin toss per request."""
    if percent >= 100:
        return True
    if sticky_key is None:
        return random.random() * 100 < percent
    digest = hashlib.blake2b(f"{route_id}:{sticky_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) % 10_000 < percent * 100


def shadow_idempotency_key(secret: bytes, original: str) -> str:
    """The key a mirrored write carries instead of the client's: stable for one original (the target
    deduplicates the copies of one request) and never equal to a key a client would send."""
    return "shadow-" + hmac.new(secret, original.encode(), hashlib.sha256).hexdigest()[:40]


def copy_headers(
    fields: list[tuple[str, str]], *, write: bool, secret: bytes, received: float | None = None
) -> list[tuple[str, str]]:
    """The copy's headers: the client's (after the gateway's own: identity, request id, traceparent) minus
    hop-by-hop ones, plus the shadow marker and when the gateway received the request; a write's
    Idempotency-Key rewritten."""
    headers = []
    for name, value in fields:
        lower = name.lower()
        if lower in _NOT_COPIED:
            continue
        if write and lower == "idempotency-key":
            value = shadow_idempotency_key(secret, value)
        headers.append((name, value))
    headers.append((SHADOW_HEADER, "1"))
    if received is not None:
        headers.append((RECEIVED_HEADER, f"{received:.6f}"))
    return headers


def service_fields(fields: list[tuple[str, str]], authorization: str | None) -> list[tuple[str, str]]:
    """The headers a copy to a service starts from: the monolith's signed identity header dropped, and the
    client's Authorization (`authorization`, taken off the monolith's request by IdentityHeader) put back
    when the request no longer carries one."""
    kept = [(name, value) for name, value in fields if name.lower() != IDENTITY_HEADER.lower()]
    if authorization is not None and not any(name.lower() == "authorization" for name, _ in kept):
        kept.append(("Authorization", authorization))
    return kept


def sticky_key(flow: http.HTTPFlow) -> str | None:
    identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
    if identity.user_id:
        return f"user:{identity.user_id}"
    session = flow.metadata.get(SESSION_KEY)
    if session:
        return f"session:{session}"
    peer = flow.client_conn.peername
    return f"address:{peer[0]}" if peer else None


@dataclass(slots=True)
class Capture:
    """A mirrored request: what the copies send, and legacy's answer once it is known."""

    route: Route
    options: ShadowOptions
    target: Upstream
    method: str
    target_path: str  # path and query, as the client sent them
    header_fields: list[tuple[str, str]]  # what the primary (legacy) got: also the secondary's
    service_fields: list[tuple[str, str]]  # what the target's copies start from (see service_fields)
    body: bytes
    trace_id: str
    user: str | None
    write: bool
    received: float | None = None  # when the gateway received the request (Unix seconds)
    copy_headers: dict[bool, list[tuple[str, str]]] = field(default_factory=dict)  # by "to a service"
    primary: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


async def send_copy(
    session: aiohttp.ClientSession,
    capture: Capture,
    upstream: Upstream,
    started: float,
    *,
    to_service: bool,
    timeout: aiohttp.ClientTimeout,
    limit: int,
    secret: bytes,
) -> Exchange:
    """Send one copy of `capture` to `upstream` and keep its answer (the body cut at `limit`, hashed
    whole); a copy without an answer is an Exchange.failed with the reason."""
    headers = capture.copy_headers.get(to_service)
    if headers is None:  # once per mirrored request and kind of upstream, shared by its copies
        fields = capture.service_fields if to_service else capture.header_fields
        headers = capture.copy_headers[to_service] = copy_headers(
            fields, write=capture.write, secret=secret, received=capture.received if to_service else None
        )
    try:
        async with session.request(
            capture.method,
            URL(upstream.url + capture.target_path, encoded=True),
            headers=headers,
            data=capture.body or None,
            timeout=timeout,
            allow_redirects=False,
        ) as answer:
            length = answer.content_length
            if length is not None and length <= limit:  # the usual small answer: one read
                whole = await answer.read()  # decoded: may be longer than the Content-Length
                size, digest, kept = len(whole), hashlib.sha256(whole), whole[:limit]
            else:
                digest = hashlib.sha256()
                kept = bytearray()
                size = 0
                async for chunk in answer.content.iter_chunked(_READ_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if len(kept) < limit:
                        kept += chunk[: limit - len(kept)]
            header_fields = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.raw_headers]
            status = answer.status
    except aiohttp.ConnectionTimeoutError:
        return Exchange.failed("connect_timeout", elapsed_ms(started))
    except aiohttp.ClientConnectorError:
        return Exchange.failed("connect_failed", elapsed_ms(started))
    except TimeoutError:
        return Exchange.failed("timeout", elapsed_ms(started))
    except aiohttp.ClientError as exc:
        logger.debug("shadow copy to %s: %r", upstream.name, exc)
        return Exchange.failed("disconnected", elapsed_ms(started))
    selected = select_headers(header_fields, keep=RESPONSE_HEADERS)
    selected.pop("content-encoding", None)  # the body is kept decoded, as the primary's is
    return Exchange(
        status=status,
        headers=selected,
        body=bytes(kept),
        body_truncated=size > limit,
        body_sha256=digest.hexdigest(),
        body_size=size,
        content_type=selected.get("content-type"),
        elapsed_ms=round(elapsed_ms(started), 3),
    )


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
