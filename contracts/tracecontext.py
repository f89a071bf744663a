"""X-Request-ID and W3C traceparent rules, shared by the gateway, the monolith and the services.

No Django here: the gateway (mitmproxy) imports it too.
"""

from __future__ import annotations

import os
import re
import uuid

REQUEST_ID_HEADER = "X-Request-ID"
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# version-traceid-parentid-flags, lower-case hex (https://www.w3.org/TR/trace-context/#traceparent-header).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16
SAMPLED = "01"


def request_id_or_new(value: str | None) -> str:
    """The caller's X-Request-ID when it is sane, else a new one."""
    return value if value and SAFE_REQUEST_ID.match(value) else uuid.uuid4().hex


def parse_traceparent(value: str | None) -> tuple[str, str, str] | None:
    """(trace_id, parent_id, flags) of a valid traceparent, else None. Version ff is invalid; version 00
    allows nothing after the flags; later versions may append fields, which are ignored."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    if trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_SPAN_ID:
        return None
    return trace_id, parent_id, flags


def new_span_id() -> str:
    while (span := os.urandom(8).hex()) == _ZERO_SPAN_ID:  # pragma: no cover - 2**-64
        pass
    return span


def new_trace_id() -> str:
    while (trace := os.urandom(16).hex()) == _ZERO_TRACE_ID:  # pragma: no cover - 2**-128
        pass
    return trace
