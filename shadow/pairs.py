"""The shadow pair: one mirrored request with the answers of legacy (primary), the candidate (target), and
optionally a second legacy instance (secondary, for noise) and a second candidate answer (candidate2).

The gateway builds pairs (strangler_proxy/shadow_capture.py) and publishes them as JSON (shadow/transport/);
the comparator reads them back with `ShadowPair.from_json`, which is strict (shadow/pair_wire.py): anything
that is not exactly a pair of this version raises MalformedPair, so the consumer can dead-letter it.

Bodies larger than the capture limit are cut to the limit (`body_truncated`); `body_sha256` and
`body_size` always describe the WHOLE body, so two large answers can still be compared by hash. Bodies
travel as UTF-8 text when they are valid UTF-8, else base64 (`body_encoding`). Credentials never travel:
Authorization, Cookie, Set-Cookie (and the like) keep their name with a redacted value.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from shadow import pair_wire as wire
from shadow.pair_wire import MalformedPair

SCHEMA_VERSION = 1
DEFAULT_BODY_LIMIT = 64 * 1024  # bytes of each body kept in a pair
REDACTED = "<redacted>"
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-internal-token"}
)
# Never part of a pair: they describe the connection, not the exchange.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "host",
    }
)
# The answer headers a pair keeps (the rest -- Date, Server, X-Request-ID, traceparent -- differ on every
# answer and say nothing about the candidate's behaviour).
RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-language",
        "content-encoding",
        "content-disposition",
        "cache-control",
        "location",
        "vary",
        "allow",
        "www-authenticate",
        "retry-after",
        "etag",
        "last-modified",
        "set-cookie",
    }
)


def select_headers(
    fields: Iterable[tuple[str, str]], *, keep: frozenset[str] | None = None
) -> dict[str, str]:
    """Lower-cased header names -> value (repeated headers joined with ", "); hop-by-hop headers dropped,
    credentials redacted, and with `keep` only the headers named there."""
    selected: dict[str, str] = {}
    for name, value in fields:
        lower = name.lower()
        if lower in HOP_BY_HOP or (keep is not None and lower not in keep):
            continue
        value = REDACTED if lower in CREDENTIAL_HEADERS else value
        selected[lower] = f"{selected[lower]}, {value}" if lower in selected else value
    return selected


@dataclass(frozen=True, slots=True)
class CapturedBody:
    """A body as a pair keeps it: at most the limit's bytes, and the size and hash of the whole."""

    data: bytes
    truncated: bool
    sha256: str
    size: int


def capture_body(body: bytes | None, limit: int = DEFAULT_BODY_LIMIT) -> CapturedBody:
    body = body or b""
    return CapturedBody(body[:limit], len(body) > limit, hashlib.sha256(body).hexdigest(), len(body))


@dataclass(frozen=True, slots=True)
class Exchange:
    """One upstream's answer to the (mirrored) request. `status` 0 and `error` set when there was none
    (e.g. "timeout", "connect_failed", "bulkhead_full")."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    body_truncated: bool
    body_sha256: str
    body_size: int
    content_type: str | None
    elapsed_ms: float
    error: str | None = None

    @classmethod
    def answered(
        cls,
        status: int,
        header_fields: Iterable[tuple[str, str]],
        body: bytes | None,
        elapsed_ms: float,
        *,
        limit: int = DEFAULT_BODY_LIMIT,
        error: str | None = None,
    ) -> Exchange:
        headers = select_headers(header_fields, keep=RESPONSE_HEADERS)
        captured = capture_body(body, limit)
        return cls(
            status=status,
            headers=headers,
            body=captured.data,
            body_truncated=captured.truncated,
            body_sha256=captured.sha256,
            body_size=captured.size,
            content_type=headers.get("content-type"),
            elapsed_ms=round(elapsed_ms, 3),
            error=error,
        )

    @classmethod
    def failed(cls, error: str, elapsed_ms: float) -> Exchange:
        empty = capture_body(b"")
        return cls(0, {}, b"", False, empty.sha256, 0, None, round(elapsed_ms, 3), error)

    @property
    def is_json(self) -> bool:
        content_type = (self.content_type or "").split(";", 1)[0].strip().lower()
        return content_type == "application/json" or content_type.endswith("+json")

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON or was cut at the capture limit."""
        if self.body_truncated:
            raise ValueError("the body was truncated at the capture limit; compare body_sha256 instead")
        return orjson.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        text, encoding = wire.encode_body(self.body)
        return {
            "status": self.status,
            "headers": dict(self.headers),
            "body": text,
            "body_encoding": encoding,
            "body_truncated": self.body_truncated,
            "body_sha256": self.body_sha256,
            "body_size": self.body_size,
            "content_type": self.content_type,
            "elapsed_ms": self.elapsed_ms,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: object, where: str) -> Exchange:
        fields = wire.fields_of(data, where, wire.EXCHANGE_KEYS)
        return cls(
            status=wire.integer(fields, "status", where, low=0, high=999),
            headers=wire.headers_of(fields, "headers", where),
            body=wire.decode_body(fields, where),
            body_truncated=wire.typed(fields, "body_truncated", where, bool),
            body_sha256=wire.sha256_hex(fields, "body_sha256", where),
            body_size=wire.integer(fields, "body_size", where, low=0),
            content_type=wire.typed(fields, "content_type", where, str, nullable=True),
            elapsed_ms=wire.number(fields, "elapsed_ms", where),
            error=wire.typed(fields, "error", where, str, nullable=True),
        )


@dataclass(frozen=True, slots=True)
class ShadowPair:
    """One mirrored request and its answers. `user` is the user id the gateway resolved (None:
    anonymous); `query` is the raw query string without '?'; `captured_at` is ISO 8601 UTC."""

    route: str
    trace_id: str
    user: str | None
    method: str
    path: str
    query: str
    request_headers: Mapping[str, str]
    request_body: bytes
    request_body_truncated: bool
    request_body_sha256: str
    primary: Exchange
    candidate: Exchange
    secondary: Exchange | None = None
    candidate2: Exchange | None = None
    captured_at: str = field(default_factory=lambda: utc_now())
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    version: int = SCHEMA_VERSION

    @classmethod
    def build(
        cls,
        *,
        route: str,
        trace_id: str,
        user: str | None,
        method: str,
        path: str,
        query: str,
        header_fields: Iterable[tuple[str, str]],
        body: bytes | None,
        primary: Exchange,
        candidate: Exchange,
        secondary: Exchange | None = None,
        candidate2: Exchange | None = None,
        limit: int = DEFAULT_BODY_LIMIT,
    ) -> ShadowPair:
        captured = capture_body(body, limit)
        return cls(
            route=route,
            trace_id=trace_id,
            user=user,
            method=method,
            path=path,
            query=query,
            request_headers=select_headers(header_fields),
            request_body=captured.data,
            request_body_truncated=captured.truncated,
            request_body_sha256=captured.sha256,
            primary=primary,
            candidate=candidate,
            secondary=secondary,
            candidate2=candidate2,
        )

    def to_dict(self) -> dict[str, Any]:
        text, encoding = wire.encode_body(self.request_body)
        return {
            "version": self.version,
            "id": self.id,
            "route": self.route,
            "trace_id": self.trace_id,
            "user": self.user,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "request_headers": dict(self.request_headers),
            "request_body": text,
            "request_body_encoding": encoding,
            "request_body_truncated": self.request_body_truncated,
            "request_body_sha256": self.request_body_sha256,
            "primary": self.primary.to_dict(),
            "candidate": self.candidate.to_dict(),
            "secondary": self.secondary.to_dict() if self.secondary else None,
            "candidate2": self.candidate2.to_dict() if self.candidate2 else None,
            "captured_at": self.captured_at,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> ShadowPair:
        """Strict: raises MalformedPair for anything but a complete pair of SCHEMA_VERSION (unknown keys
        included)."""
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise MalformedPair(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> ShadowPair:
        fields = wire.fields_of(data, "pair", wire.PAIR_KEYS)
        if fields["version"] != SCHEMA_VERSION or type(fields["version"]) is not int:
            raise MalformedPair(f"pair: version must be {SCHEMA_VERSION}, got {fields['version']!r}")
        encoding = wire.typed(fields, "request_body_encoding", "pair", str)
        return cls(
            version=SCHEMA_VERSION,
            id=wire.nonempty(fields, "id", "pair"),
            route=wire.nonempty(fields, "route", "pair"),
            trace_id=wire.typed(fields, "trace_id", "pair", str),
            user=wire.typed(fields, "user", "pair", str, nullable=True),
            method=wire.nonempty(fields, "method", "pair"),
            path=wire.request_path(fields),
            query=wire.typed(fields, "query", "pair", str),
            request_headers=wire.headers_of(fields, "request_headers", "pair"),
            request_body=wire.body_bytes(fields["request_body"], encoding, "pair.request_body"),
            request_body_truncated=wire.typed(fields, "request_body_truncated", "pair", bool),
            request_body_sha256=wire.sha256_hex(fields, "request_body_sha256", "pair"),
            primary=Exchange.from_dict(fields["primary"], "pair.primary"),
            candidate=Exchange.from_dict(fields["candidate"], "pair.candidate"),
            secondary=_optional_exchange(fields, "secondary"),
            candidate2=_optional_exchange(fields, "candidate2"),
            captured_at=wire.timestamp(fields),
        )


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _optional_exchange(fields: dict, key: str) -> Exchange | None:
    value = fields[key]
    return None if value is None else Exchange.from_dict(value, f"pair.{key}")


__all__ = [
    "CapturedBody",
    "Exchange",
    "MalformedPair",
    "ShadowPair",
    "capture_body",
    "select_headers",
    "utc_now",
]
