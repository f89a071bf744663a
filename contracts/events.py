"""The event envelope every service and the monolith publish on the `strangler.events` topic exchange.

JSON object with exactly: id (uuid4), type (= routing key), occurred_at (ISO 8601 UTC), trace_id (32 hex),
source, version (envelope schema version, 1), data (object).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from contracts.tracecontext import new_trace_id

ENVELOPE_VERSION = 1
FIELDS = frozenset({"id", "type", "occurred_at", "trace_id", "source", "version", "data"})
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRACE_ID = re.compile(r"^(?!0{32})[0-9a-f]{32}$")


class InvalidEnvelope(ValueError):
    """A message is not an envelope we can trust (consumers dead-letter it at once)."""


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    occurred_at: datetime
    trace_id: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = ENVELOPE_VERSION

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def new(cls, type: str, data: dict[str, Any], *, source: str, trace_id: str | None = None) -> Envelope:
        """A fresh event: new uuid4 id, now as occurred_at, the given trace id or a new one."""
        return cls(
            id=str(uuid.uuid4()),
            type=type,
            occurred_at=datetime.now(UTC),
            trace_id=trace_id or new_trace_id(),
            source=source,
            data=data,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "trace_id": self.trace_id,
            "source": self.source,
            "version": self.version,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse and validate strictly; anything else raises InvalidEnvelope."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidEnvelope(f"not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise InvalidEnvelope("the envelope is not a JSON object")
        missing, unknown = FIELDS - doc.keys(), doc.keys() - FIELDS
        if missing or unknown:
            raise InvalidEnvelope(f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
        return cls(
            id=doc["id"],
            type=doc["type"],
            occurred_at=_parse_time(doc["occurred_at"]),
            trace_id=doc["trace_id"],
            source=doc["source"],
            data=doc["data"],
            version=doc["version"],
        )


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise InvalidEnvelope("occurred_at is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEnvelope(f"occurred_at is not ISO 8601: {value[:40]!r}") from None
    return parsed


def _validate(envelope: Envelope) -> None:
    problems = []
    if not isinstance(envelope.id, str) or not _is_uuid4(envelope.id):
        problems.append("id is not a uuid4 string")
    if not isinstance(envelope.type, str) or not EVENT_TYPE.match(envelope.type):
        problems.append("type is not a dotted routing key")
    occurred = envelope.occurred_at
    if (
        not isinstance(occurred, datetime)
        or occurred.utcoffset() is None
        or occurred.utcoffset().total_seconds()
    ):
        problems.append("occurred_at is not a UTC timestamp")
    if not isinstance(envelope.trace_id, str) or not TRACE_ID.match(envelope.trace_id):
        problems.append("trace_id is not 32 lower-case hex digits")
    if not isinstance(envelope.source, str) or not SOURCE.match(envelope.source):
        problems.append("source is not a service name")
    if type(envelope.version) is not int or envelope.version != ENVELOPE_VERSION:
        problems.append(f"version is not {ENVELOPE_VERSION}")
    if not isinstance(envelope.data, dict):
        problems.append("data is not an object")
    if problems:
        raise InvalidEnvelope("; ".join(problems))


def _is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value
