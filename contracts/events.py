"""The event envelope every service and the monolith publish on the `strangler.events` topic exchange.

JSON object with exactly: id (uuid4), type (= routing key), occurred_at (ISO 8601 UTC), trace_id (32 hex),
source, version (envelope schema version, 1), data (object), digest; and, on a signed event, kid and
signature (contracts/event_trust.py says which types must be signed, and by whom).

- content: the canonical bytes of the seven content fields (id ... data): compact JSON, keys sorted at every
  level, UTF-8 (orjson), so a publisher and a consumer in any language agree byte for byte.
- digest: `sha-256:<base64url of SHA-256(content)>`, on every event; `from_json` refuses an envelope
  whose content does not match it (TamperedEnvelope). An envelope without one (published by a service not
  yet upgraded, during a rolling deploy) parses, marked `arrived_without_digest`: the consumer's verifier
  decides (accepted and counted unless EVENT_SIGNATURES=enforce, chassis/event_keys.py).
- kid, signature: ES256 (ECDSA P-256 over SHA-256, r||s base64url as in JWS) over
  `signing_input()` = content + b"." + kid, by the key `kid` of the publishing service.
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from contracts.tracecontext import new_trace_id

ENVELOPE_VERSION = 1
CONTENT_FIELDS = frozenset({"id", "type", "occurred_at", "trace_id", "source", "version", "data"})
FIELDS = CONTENT_FIELDS | {"digest"}  # what an envelope is serialised with
REQUIRED_FIELDS = CONTENT_FIELDS  # the digest may be missing (an older publisher): see arrived_without_digest
SIGNATURE_FIELDS = frozenset({"kid", "signature"})  # both or neither
DIGEST_PREFIX = "sha-256:"
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
SOURCE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRACE_ID = re.compile(r"^(?!0{32})[0-9a-f]{32}$")


class InvalidEnvelope(ValueError):
    """A message is not an envelope we can trust (consumers dead-letter it at once)."""

    kind = "malformed envelope"


class TamperedEnvelope(InvalidEnvelope):
    """The content is not what its digest says: altered in transit, or by whoever re-published it."""

    kind = "digest mismatch"


def canonical_json(doc: Any) -> bytes:
    """Compact JSON, keys sorted at every level, UTF-8: the bytes digests and signatures cover."""
    try:
        return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise InvalidEnvelope(f"not JSON-serialisable: {exc}") from None


def content_digest(content: bytes) -> str:
    return DIGEST_PREFIX + base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    occurred_at: datetime
    trace_id: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)
    version: int = ENVELOPE_VERSION
    kid: str | None = None
    signature: str | None = None

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

    def content_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "trace_id": self.trace_id,
            "source": self.source,
            "version": self.version,
            "data": self.data,
        }

    def content(self) -> bytes:
        """The canonical bytes of the content fields (as received, for a parsed envelope)."""
        cached = self.__dict__.get("_content")
        if cached is None:
            cached = canonical_json(self.content_dict())
            object.__setattr__(self, "_content", cached)
        return cached

    @property
    def arrived_without_digest(self) -> bool:
        """True for an envelope parsed from a message that carried no digest (an older publisher)."""
        return self.__dict__.get("_without_digest", False)

    @property
    def digest(self) -> str:
        return content_digest(self.content())

    def signing_input(self, kid: str | None = None) -> bytes:
        """What the signature covers: the content bytes, ".", the kid."""
        return self.content() + b"." + (kid or self.kid or "").encode("utf-8")

    def signed(self, kid: str, signature: str) -> Envelope:
        """This envelope with its signature (the content bytes are carried over unchanged)."""
        out = replace(self, kid=kid, signature=signature)
        object.__setattr__(out, "_content", self.content())
        return out

    def to_dict(self) -> dict[str, Any]:
        doc = {**self.content_dict(), "digest": self.digest}
        if self.signature is not None:
            doc["kid"], doc["signature"] = self.kid, self.signature
        return doc

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
        missing, unknown = REQUIRED_FIELDS - doc.keys(), doc.keys() - FIELDS - SIGNATURE_FIELDS
        if missing or unknown:
            raise InvalidEnvelope(f"missing fields {sorted(missing)}, unknown fields {sorted(unknown)}")
        signature = SIGNATURE_FIELDS & doc.keys()
        if signature and signature != SIGNATURE_FIELDS:
            raise InvalidEnvelope("kid and signature come together")
        envelope = cls(
            id=doc["id"],
            type=doc["type"],
            occurred_at=_parse_time(doc["occurred_at"]),
            trace_id=doc["trace_id"],
            source=doc["source"],
            data=doc["data"],
            version=doc["version"],
            kid=doc.get("kid"),
            signature=doc.get("signature"),
        )
        content = canonical_json({name: doc[name] for name in CONTENT_FIELDS})
        if "digest" not in doc:
            object.__setattr__(envelope, "_without_digest", True)
        elif not isinstance(doc["digest"], str) or doc["digest"] != content_digest(content):
            raise TamperedEnvelope(
                f"the content of {envelope.type} {envelope.id} does not match its digest "
                f"{str(doc['digest'])[:60]!r}"
            )
        object.__setattr__(envelope, "_content", content)
        return envelope


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
    if (envelope.kid is None) != (envelope.signature is None) or not all(
        value is None or (isinstance(value, str) and 0 < len(value) <= 200)
        for value in (envelope.kid, envelope.signature)
    ):
        problems.append("kid and signature are not both short strings, nor both absent")
    if problems:
        raise InvalidEnvelope("; ".join(problems))


def _is_uuid4(value: str) -> bool:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value
