"""The shadow pair's wire format, read strictly: every field checked for its type and range, unknown keys
refused (MalformedPair names the field), bodies decoded from UTF-8 text or base64. shadow/pairs.py builds
and writes pairs; this is what `ShadowPair.from_json` and `Exchange.from_dict` read them with."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any


class MalformedPair(ValueError):
    """The bytes are not a shadow pair of this schema version (the message says which field)."""


EXCHANGE_KEYS = frozenset(
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
PAIR_KEYS = frozenset(
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
HEX = frozenset("0123456789abcdef")


def fields_of(data: object, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedPair(f"{where} must be an object, got {type(data).__name__}")
    missing = keys - data.keys()
    unknown = data.keys() - keys
    if missing:
        raise MalformedPair(f"{where}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise MalformedPair(f"{where}: unknown {', '.join(sorted(unknown))}")
    return data


def typed(fields: dict, key: str, where: str, kind: type, *, nullable: bool = False) -> Any:
    value = fields[key]
    if value is None and nullable:
        return None
    if type(value) is not kind:  # bool is not an int here, and an int is not a bool
        expected = f"{kind.__name__}{' or null' if nullable else ''}"
        raise MalformedPair(f"{where}.{key} must be {expected}, got {type(value).__name__}")
    return value


def nonempty(fields: dict, key: str, where: str) -> str:
    value = typed(fields, key, where, str)
    if not value:
        raise MalformedPair(f"{where}.{key} must not be empty")
    return value


def integer(fields: dict, key: str, where: str, *, low: int, high: int | None = None) -> int:
    value = typed(fields, key, where, int)
    if value < low or (high is not None and value > high):
        raise MalformedPair(f"{where}.{key} is out of range: {value}")
    return value


def number(fields: dict, key: str, where: str) -> float:
    value = fields[key]
    if type(value) not in (int, float) or value < 0:
        raise MalformedPair(f"{where}.{key} must be a non-negative number, got {value!r}")
    return float(value)


def sha256_hex(fields: dict, key: str, where: str) -> str:
    value = typed(fields, key, where, str)
    if len(value) != 64 or not set(value) <= HEX:
        raise MalformedPair(f"{where}.{key} is not a sha256 hex digest")
    return value


def headers_of(fields: dict, key: str, where: str) -> dict[str, str]:
    value = fields[key]
    if not isinstance(value, dict) or not all(type(v) is str for v in value.values()):
        raise MalformedPair(f"{where}.{key} must be an object of strings")
    return value


def request_path(fields: dict) -> str:
    value = typed(fields, "path", "pair", str)
    if not value.startswith("/"):
        raise MalformedPair("pair.path must start with '/'")
    return value


def timestamp(fields: dict) -> str:
    value = typed(fields, "captured_at", "pair", str)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedPair(f"pair.captured_at is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise MalformedPair("pair.captured_at must carry a time zone (UTC)")
    return value


def encode_body(body: bytes) -> tuple[str, str]:
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


def decode_body(fields: dict, where: str) -> bytes:
    encoding = typed(fields, "body_encoding", where, str)
    return body_bytes(fields["body"], encoding, f"{where}.body")


def body_bytes(value: object, encoding: str, where: str) -> bytes:
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
