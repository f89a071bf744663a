"""Traffic recording: what the gateway's Recorder addon (strangler_proxy/recorder.py) and `manage.py traffic
record|replay` (control/traffic/) share. Pure Python: one copy of the format for both sides.

- The recording request: one JSON file (GATEWAY_RECORD_CONTROL, default <STRANGLER_VAR_DIR>/traffic/
  record.json) that `traffic record` writes and every gateway process polls. While it is there, not
  stopped and not past `until`, each gateway process writes the flows of the named routes, at most
  `max_flows`, in mitmproxy's own flow format to its part file `<directory>/<id>.<process>.flows`;
  `traffic record` merges the parts into one file (by time, cut at `max_flows`).
- Redaction: credentials (the headers of CREDENTIAL_HEADERS) and the body fields and query parameters
  named in the redaction rules (strangler_proxy/redaction.yaml) are replaced by REDACTED before a flow is
  written, in requests and answers alike. The rules used travel with each recorded flow, so a replay applies
  the same ones to the candidate's answers and compares like with like.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

CONTROL_ENV = "GATEWAY_RECORD_CONTROL"
POLL_SECONDS = 0.25  # how often a gateway process looks at the recording request (while requests come in)
REDACTED = "<redacted>"
FLOW_SUFFIX = ".flows"
METADATA_KEY = "strangler"  # flow.metadata[METADATA_KEY] of a recorded flow: RecordedFacts.to_dict()
# Always redacted, whatever the rules say: credentials, and the gateway's own signed headers.
CREDENTIAL_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-internal-token",
        "x-strangler-identity",
        "x-tester-override",
    }
)
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def default_control_path() -> Path:
    """GATEWAY_RECORD_CONTROL, else <STRANGLER_VAR_DIR or the repository's var/>/traffic/record.json."""
    explicit = os.environ.get(CONTROL_ENV)
    if explicit:
        return Path(explicit)
    var = os.environ.get("STRANGLER_VAR_DIR") or str(Path(__file__).resolve().parent.parent / "var")
    return Path(var) / "traffic" / "record.json"


class BadRecordingRequest(ValueError):
    """The control file is not a recording request of this format (the message says which field)."""


@dataclass(frozen=True)
class RecordingRequest:
    """Record `routes` (route ids; "*" = every route) until `until` (epoch seconds), at most `max_flows`
    flows per gateway process, into part files under `directory`. `stopped`: end now."""

    id: str
    routes: tuple[str, ...]
    until: float
    max_flows: int
    directory: str
    started_at: float
    stopped: bool = False

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise BadRecordingRequest(f"id {self.id!r}: letters, digits, _ and - only")
        if not self.routes or not all(isinstance(r, str) and r for r in self.routes):
            raise BadRecordingRequest("routes: at least one route id")
        if self.max_flows < 1:
            raise BadRecordingRequest(f"max_flows must be at least 1, got {self.max_flows}")

    def covers(self, route: str | None) -> bool:
        return route is not None and ("*" in self.routes or route in self.routes)

    def active(self, now: float) -> bool:
        return not self.stopped and now < self.until

    def part_path(self, process: str) -> Path:
        return Path(self.directory) / f"{self.id}.{process}{FLOW_SUFFIX}"

    def part_paths(self) -> list[Path]:
        return sorted(Path(self.directory).glob(f"{self.id}.*{FLOW_SUFFIX}"))

    def to_json(self) -> str:
        data = {
            "id": self.id,
            "routes": list(self.routes),
            "until": self.until,
            "max_flows": self.max_flows,
            "directory": self.directory,
            "started_at": self.started_at,
            "stopped": self.stopped,
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RecordingRequest:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BadRecordingRequest(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise BadRecordingRequest("not a JSON object")
        try:
            return cls(
                id=str(data["id"]),
                routes=tuple(data["routes"]),
                until=float(data["until"]),
                max_flows=int(data["max_flows"]),
                directory=str(data["directory"]),
                started_at=float(data.get("started_at") or 0.0),
                stopped=bool(data.get("stopped", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRecordingRequest(f"missing or bad field: {exc}") from None


def process_tag(pid: int | None = None) -> str:
    """This gateway process's part name: w<N> under the multi-process runner, else p<pid>."""
    worker = os.environ.get("STRANGLER_WORKER_ID")
    return f"w{worker}" if worker else f"p{pid or os.getpid()}"


# --- redaction ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Redaction:
    """What a recording redacts: header names (beyond CREDENTIAL_HEADERS), body field names (a JSON key at
    any depth, or a form field: its whole value) and query parameter names; all compared lower-cased."""

    headers: frozenset[str] = frozenset()
    fields: frozenset[str] = frozenset()
    query: frozenset[str] = frozenset()
    all_headers: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        lower = {
            name: frozenset(n.lower() for n in getattr(self, name)) for name in ("headers", "fields", "query")
        }
        for name, value in lower.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "all_headers", CREDENTIAL_HEADERS | lower["headers"])

    def to_dict(self) -> dict[str, list[str]]:
        return {"headers": sorted(self.headers), "fields": sorted(self.fields), "query": sorted(self.query)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Redaction:
        data = data or {}
        return cls(
            headers=frozenset(data.get("headers") or ()),
            fields=frozenset(data.get("fields") or ()),
            query=frozenset(data.get("query") or ()),
        )

    def header_fields(self, fields: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """(name, value) pairs with the redacted headers' values replaced."""
        return [(name, REDACTED if name.lower() in self.all_headers else value) for name, value in fields]

    def query_string(self, query: str) -> str:
        """The raw query string with the named parameters' values replaced; untouched otherwise."""
        if not query or not self.query:
            return query
        parts = []
        for part in query.split("&"):
            name = part.partition("=")[0]
            if unquote_plus(name).lower() in self.query:
                part = f"{name}={quote(REDACTED)}"
            parts.append(part)
        return "&".join(parts)

    def body(self, content: bytes | None, content_type: str | None) -> tuple[bytes | None, bool]:
        """(body, changed): JSON bodies with the named keys' values replaced at any depth, form bodies with
        the named fields' values; any other body unchanged (its bytes are kept whole)."""
        if not content or not self.fields:
            return content, False
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        if kind == "application/json" or kind.endswith("+json"):
            try:
                document = json.loads(content)
            except ValueError:
                return content, False
            redacted, changed = redact_json(document, self.fields)
            if not changed:
                return content, False
            return json.dumps(redacted, ensure_ascii=False, separators=(",", ":")).encode(), True
        if kind == "application/x-www-form-urlencoded":
            text = content.decode("latin-1")
            redacted = Redaction(fields=frozenset(), query=self.fields).query_string(text)
            return redacted.encode("latin-1"), redacted != text
        return content, False


def redact_json(value: Any, fields: frozenset[str]) -> tuple[Any, bool]:
    """The document with the value of every key named in `fields` (lower-cased) replaced by REDACTED."""
    if isinstance(value, dict):
        changed = False
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in fields:
                out[key] = REDACTED
                changed = True
            else:
                out[key], inner = redact_json(item, fields)
                changed = changed or inner
        return out, changed
    if isinstance(value, list):
        items = [redact_json(item, fields) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    return value, False


@dataclass(frozen=True)
class RecordedFacts:
    """What the gateway knew of a recorded flow (flow.metadata["strangler"]): the recording, the route and
    the upstream that answered, the gateway's time to the answer, and the redaction applied."""

    recording: str
    route: str
    upstream: str | None
    mode: str | None
    upstream_ms: float | None
    redaction: Redaction
    body_streamed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "route": self.route,
            "upstream": self.upstream,
            "mode": self.mode,
            "upstream_ms": self.upstream_ms,
            "redaction": self.redaction.to_dict(),
            "body_streamed": self.body_streamed,
        }

    @classmethod
    def from_dict(cls, data: Any) -> RecordedFacts | None:
        """None when the flow was not recorded by the gateway (no or malformed metadata)."""
        if not isinstance(data, dict) or not isinstance(data.get("route"), str):
            return None
        upstream_ms = data.get("upstream_ms")
        return cls(
            recording=str(data.get("recording") or ""),
            route=data["route"],
            upstream=data.get("upstream"),
            mode=data.get("mode"),
            upstream_ms=float(upstream_ms) if isinstance(upstream_ms, int | float) else None,
            redaction=Redaction.from_dict(data.get("redaction")),
            body_streamed=bool(data.get("body_streamed")),
        )
