"""The shadow pair: one mirrored request with the answers of legacy (primary), the candidate (target), and
optionally a second legacy instance (secondary, for noise) and a second candidate answer (candidate2).

The gateway builds pairs (strangler_proxy/shadow.py) and publishes them as JSON (shadow/transport.py); the
comparator reads them back with `ShadowPair.from_json`, which is strict: anything that is not exactly a
pair of this version raises MalformedPair, so the consumer can dead-letter it.

Bodies larger than the capture limit are cut to the limit (`body_truncated`); `body_sha256` and
`body_size` always describe the WHOLE body, so two large answers can still be compared by hash. Bodies
travel as UTF-8 text when they are valid UTF-8, else base64 (`body_encoding`). Credentials never travel:
Authorization, Cookie, Set-Cookie (and the like) keep their name with a redacted value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

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


class MalformedPair(ValueError):
    """The bytes are not a shadow pair of this schema version (the message says which field)."""


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
        text, encoding = _encode_body(self.body)
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
        fields = _fields(data, where, _EXCHANGE_KEYS)
        return cls(
            status=_int(fields, "status", where, low=0, high=999),
            headers=_headers(fields, "headers", where),
            body=_decode_body(fields, where),
            body_truncated=_typed(fields, "body_truncated", where, bool),
            body_sha256=_sha256(fields, "body_sha256", where),
            body_size=_int(fields, "body_size", where, low=0),
            content_type=_typed(fields, "content_type", where, str, nullable=True),
            elapsed_ms=_number(fields, "elapsed_ms", where),
            error=_typed(fields, "error", where, str, nullable=True),
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
        text, encoding = _encode_body(self.request_body)
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
        fields = _fields(data, "pair", _PAIR_KEYS)
        if fields["version"] != SCHEMA_VERSION or type(fields["version"]) is not int:
            raise MalformedPair(f"pair: version must be {SCHEMA_VERSION}, got {fields['version']!r}")
        encoding = _typed(fields, "request_body_encoding", "pair", str)
        return cls(
            version=SCHEMA_VERSION,
            id=_nonempty(fields, "id", "pair"),
            route=_nonempty(fields, "route", "pair"),
            trace_id=_typed(fields, "trace_id", "pair", str),
            user=_typed(fields, "user", "pair", str, nullable=True),
            method=_nonempty(fields, "method", "pair"),
            path=_path(fields),
            query=_typed(fields, "query", "pair", str),
            request_headers=_headers(fields, "request_headers", "pair"),
            request_body=_body_bytes(fields["request_body"], encoding, "pair.request_body"),
            request_body_truncated=_typed(fields, "request_body_truncated", "pair", bool),
            request_body_sha256=_sha256(fields, "request_body_sha256", "pair"),
            primary=Exchange.from_dict(fields["primary"], "pair.primary"),
            candidate=Exchange.from_dict(fields["candidate"], "pair.candidate"),
            secondary=_optional_exchange(fields, "secondary"),
            candidate2=_optional_exchange(fields, "candidate2"),
            captured_at=_timestamp(fields),
        )


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# --- strict reading ----------------------------------------------------------------------------------------

_EXCHANGE_KEYS = frozenset(
    {
        "status",
        "headers",
        "body",
        "body_encoding",
        "body_truncated",
        "body_sha256",
        "body_size",
        "content_type",
        "elapsed_ms",
        "error",
    }
)
_PAIR_KEYS = frozenset(
    {
        "version",
        "id",
        "route",
        "trace_id",
        "user",
        "method",
        "path",
        "query",
        "request_headers",
        "request_body",
        "request_body_encoding",
        "request_body_truncated",
        "request_body_sha256",
        "primary",
        "candidate",
        "secondary",
        "candidate2",
        "captured_at",
    }
)
_HEX = frozenset("0123456789abcdef")


def _fields(data: object, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedPair(f"{where} must be an object, got {type(data).__name__}")
    missing = keys - data.keys()
    unknown = data.keys() - keys
    if missing:
        raise MalformedPair(f"{where}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise MalformedPair(f"{where}: unknown {', '.join(sorted(unknown))}")
    return data


def _typed(fields: dict, key: str, where: str, kind: type, *, nullable: bool = False) -> Any:
    value = fields[key]
    if value is None and nullable:
        return None
    if type(value) is not kind:  # bool is not an int here, and an int is not a bool
        expected = f"{kind.__name__}{' or null' if nullable else ''}"
        raise MalformedPair(f"{where}.{key} must be {expected}, got {type(value).__name__}")
    return value


def _nonempty(fields: dict, key: str, where: str) -> str:
    value = _typed(fields, key, where, str)
    if not value:
        raise MalformedPair(f"{where}.{key} must not be empty")
    return value


def _int(fields: dict, key: str, where: str, *, low: int, high: int | None = None) -> int:
    value = _typed(fields, key, where, int)
    if value < low or (high is not None and value > high):
        raise MalformedPair(f"{where}.{key} is out of range: {value}")
    return value


def _number(fields: dict, key: str, where: str) -> float:
    value = fields[key]
    if type(value) not in (int, float) or value < 0:
        raise MalformedPair(f"{where}.{key} must be a non-negative number, got {value!r}")
    return float(value)


def _sha256(fields: dict, key: str, where: str) -> str:
    value = _typed(fields, key, where, str)
    if len(value) != 64 or not set(value) <= _HEX:
        raise MalformedPair(f"{where}.{key} is not a sha256 hex digest")
    return value


def _headers(fields: dict, key: str, where: str) -> dict[str, str]:
    value = fields[key]
    if not isinstance(value, dict) or not all(type(v) is str for v in value.values()):
        raise MalformedPair(f"{where}.{key} must be an object of strings")
    return value


def _path(fields: dict) -> str:
    value = _typed(fields, "path", "pair", str)
    if not value.startswith("/"):
        raise MalformedPair("pair.path must start with '/'")
    return value


def _timestamp(fields: dict) -> str:
    value = _typed(fields, "captured_at", "pair", str)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPair(f"pair.captured_at is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise MalformedPair("pair.captured_at must carry a time zone (UTC)")
    return value


def _optional_exchange(fields: dict, key: str) -> Exchange | None:
    value = fields[key]
    return None if value is None else Exchange.from_dict(value, f"pair.{key}")


def _encode_body(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def _decode_body(fields: dict, where: str) -> bytes:
    encoding = _typed(fields, "body_encoding", where, str)
    return _body_bytes(fields["body"], encoding, f"{where}.body")


def _body_bytes(value: object, encoding: str, where: str) -> bytes:
    if type(value) is not str:
        raise MalformedPair(f"{where} must be a string, got {type(value).__name__}")
    if encoding == "utf-8":
        return value.encode("utf-8")
    if encoding == "base64":
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise MalformedPair(f"{where} is not valid base64") from None
    raise MalformedPair(f"{where}: encoding must be 'utf-8' or 'base64', got {encoding!r}")
