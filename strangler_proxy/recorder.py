"""Recorder addon: records a route's traffic, for a bounded time or count, into mitmproxy's own flow format
(readable by `mitmdump -nr FILE`, mitmweb, and `manage.py traffic replay`).

Switched on per route by the recording request that `manage.py traffic record ROUTE --for 60s --max 1000`
writes (contracts/recording.py; option `strangler_record_control`, GATEWAY_RECORD_CONTROL): every gateway
process polls that file (a stat every 0.25 s on the event loop) and, while the request is active, appends
the answered flows of its routes to its own part file, at most `max_flows` per process; the part is created
as soon as the request is seen, which tells `traffic record` the process is recording. `traffic record`
merges the parts. No request: nothing happens but the stat.

Before a flow is written it is rebuilt from the request and the answer only (no connection details, no
client address, none of the other addons' metadata) and redacted: credentials always, and the headers,
body fields and query parameters named in the redaction rules (`strangler_redaction_file`,
GATEWAY_REDACTION_FILE, default strangler_proxy/redaction.yaml; checked at start, `file:line: ...`). The
write is synchronous (a few KB per flow, flushed whole) since recordings are short and bounded.

Runs after the Forwarder (it records what the client got) and before Audit and Metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import IO

import yaml
from mitmproxy import connection, ctx, exceptions, http
from mitmproxy import io as flow_io
from prometheus_client import Counter

from contracts.recording import (
    METADATA_KEY,
    POLL_SECONDS,
    REDACTED,
    BadRecordingRequest,
    RecordedFacts,
    RecordingRequest,
    Redaction,
    default_control_path,
    process_tag,
)
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY

logger = logging.getLogger(__name__)

DEFAULT_REDACTION_FILE = Path(__file__).resolve().parent / "redaction.yaml"
REDACTION_KEYS = ("headers", "fields", "query")

RECORDED = Counter(
    "strangler_recorded_flows",
    "Flows written to a traffic recording, by route and outcome (recorded; recorded_no_body: the answer's "
    "body was streamed past the gateway, so the flow holds no body).",
    ["route", "outcome"],
)


class RedactionFileError(ValueError):
    """The redaction rules file is invalid: `file:line: what is wrong`."""


def load_redaction(path: Path) -> Redaction:
    """The redaction rules: `headers`, `fields` and `query`, each a list of names (all optional)."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RedactionFileError(f"{path}: cannot read the redaction rules: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RedactionFileError(f"{where}: not YAML: {getattr(exc, 'problem', exc)}") from None
    if node is None:
        return Redaction()
    if not isinstance(node, yaml.MappingNode):
        raise RedactionFileError(f"{path}:{node.start_mark.line + 1}: expected a mapping of {REDACTION_KEYS}")
    found: dict[str, frozenset[str]] = {}
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if key_node.value not in REDACTION_KEYS:
            raise RedactionFileError(
                f"{path}:{line}: unknown key {key_node.value!r} (expected {', '.join(REDACTION_KEYS)})"
            )
        if not isinstance(value_node, yaml.SequenceNode) or not all(
            isinstance(item, yaml.ScalarNode) and item.value.strip() for item in value_node.value
        ):
            raise RedactionFileError(f"{path}:{line}: {key_node.value} must be a list of names")
        found[key_node.value] = frozenset(item.value.strip() for item in value_node.value)
    return Redaction(**found)


def recorded_flow(flow: http.HTTPFlow, request: RecordingRequest, redaction: Redaction) -> http.HTTPFlow:
    """A new flow holding only the (redacted) request and answer of `flow`, and what the gateway knew."""
    decision = flow.metadata.get(DECISION_KEY)
    forward = flow.metadata.get(FORWARD_KEY)
    original_request, original_response = flow.request, flow.response
    started = original_request.timestamp_start
    nowhere = ("0.0.0.0", 0)  # noqa: S104 - an address, not a bind: the client's is left out
    client = connection.Client(peername=nowhere, sockname=nowhere, timestamp_start=started)
    server = connection.Server(address=(original_request.host, original_request.port))
    copy = http.HTTPFlow(client, server)
    copy.request = original_request.copy()
    _redact_message(copy.request, redaction)
    path, sep, query = copy.request.path.partition("?")
    if sep:
        copy.request.path = f"{path}?{redaction.query_string(query)}"
    copy.response = original_response.copy() if original_response is not None else None
    streamed = False
    if copy.response is not None:
        streamed = copy.response.raw_content is None
        _redact_message(copy.response, redaction)
    facts = RecordedFacts(
        recording=request.id,
        route=decision.route_id if decision else "",
        upstream=forward.upstream_name if forward else (decision.upstream.name if decision else None),
        mode=decision.mode if decision else None,
        upstream_ms=round(forward.latency_ms, 3) if forward and not forward.passthrough else None,
        redaction=redaction,
        body_streamed=streamed,
    )
    copy.metadata = {METADATA_KEY: facts.to_dict()}
    return copy


def _redact_message(message: http.Message, redaction: Redaction) -> None:
    for name in {name.lower() for name in message.headers} & redaction.all_headers:
        message.headers.set_all(name, [REDACTED] * len(message.headers.get_all(name)))
    if message.raw_content is None:
        return
    try:
        content = message.get_content(strict=True)
    except ValueError:  # an encoding we cannot undo: keep the body as it is
        return
    redacted, changed = redaction.body(content, message.headers.get("content-type"))
    if changed:
        message.set_content(redacted)


class Recorder:
    """Options: strangler_record_control (the recording request's file), strangler_redaction_file."""

    def __init__(self) -> None:
        self.redaction = Redaction()
        self._rules_file: str | None = None
        self.control: Path | None = None
        self.request: RecordingRequest | None = None
        self._seen: tuple[int, int] | None = None
        self._next_check = 0.0
        self._part: IO[bytes] | None = None
        self._part_of: str | None = None
        self._written = 0
        self._finished: set[str] = set()
        self._poller: asyncio.Task | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_record_control",
            str,
            str(default_control_path()),
            "The traffic recording request file `manage.py traffic record` writes (empty: never record).",
        )
        loader.add_option(
            "strangler_redaction_file",
            str,
            os.environ.get("GATEWAY_REDACTION_FILE") or str(DEFAULT_REDACTION_FILE),
            "Redaction rules of traffic recordings: headers, body fields and query parameters.",
        )

    def configure(self, updated: set[str]) -> None:
        rules_file = ctx.options.strangler_redaction_file
        if rules_file != self._rules_file:
            try:
                self.redaction = load_redaction(Path(rules_file))
            except RedactionFileError as exc:
                raise exceptions.OptionsError(str(exc)) from None
            self._rules_file = rules_file
        if "strangler_record_control" in updated or self.control is None:
            raw = ctx.options.strangler_record_control
            self.control = Path(raw) if raw else None
            self._seen, self._next_check = None, 0.0

    # --- the recording request ---------------------------------------------------------------------------

    def current(self, now: float) -> RecordingRequest | None:
        """The active recording request, re-read when its file changed (checked every POLL_SECONDS)."""
        if self.control is None:
            return None
        if now >= self._next_check:
            self._next_check = now + POLL_SECONDS
            try:
                stat = self.control.stat()
                seen = (stat.st_mtime_ns, stat.st_size)
            except OSError:
                seen = None
            if seen != self._seen:
                self._seen = seen
                self._load(seen is not None)
        request = self.request
        if request is None or request.id in self._finished:
            return None
        if not request.active(now) or self._written >= request.max_flows:
            self._finish(request.id)
            return None
        return request

    def _load(self, exists: bool) -> None:
        request = None
        if exists:
            try:
                request = RecordingRequest.from_json(self.control.read_text(encoding="utf-8"))
            except (OSError, BadRecordingRequest) as exc:
                logger.warning("ignoring the recording request %s: %s", self.control, exc)
        if self.request is not None and (request is None or request.id != self.request.id):
            self._finish(self.request.id)
        if request is not None and (self.request is None or request.id != self.request.id):
            self._written = 0
        self.request = request
        if request is not None and request.active(time.time()) and request.id not in self._finished:
            self._open(request)  # at once, so `traffic record` sees this process has started

    def _open(self, request: RecordingRequest) -> IO[bytes] | None:
        if self._part is not None and self._part_of == request.id:
            return self._part
        path = request.part_path(process_tag())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._part, self._part_of = open(path, "ab"), request.id  # noqa: SIM115 - kept open while recording
        except OSError as exc:
            logger.error("cannot write the recording part %s: %s", path, exc)
            self._finished.add(request.id)
            return None
        logger.info("recording %s into %s", ",".join(request.routes), path)
        return self._part

    def _finish(self, recording: str) -> None:
        self._finished.add(recording)
        if self._part is not None and self._part_of == recording:
            self._part.close()
            self._part, self._part_of = None, None

    # --- hooks -------------------------------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        request = self.current(time.time())
        decision = flow.metadata.get(DECISION_KEY)
        if request is None or decision is None or not request.covers(decision.route_id):
            return
        part = self._open(request)
        if part is None:
            return
        recorded = recorded_flow(flow, request, self.redaction)
        flow_io.FlowWriter(part).add(recorded)
        part.flush()
        self._written += 1
        streamed = recorded.metadata[METADATA_KEY]["body_streamed"]
        RECORDED.labels(decision.route_id, "recorded_no_body" if streamed else "recorded").inc()
        if self._written >= request.max_flows:
            self._finish(request.id)

    async def running(self) -> None:
        self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            self.current(time.time())
            await asyncio.sleep(POLL_SECONDS)

    def done(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            self._poller = None
        if self._part_of is not None:
            self._finish(self._part_of)
