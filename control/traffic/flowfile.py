"""Reading and writing recordings: mitmproxy's own flow format (mitmproxy.io), so `mitmdump -nr FILE` and
mitmweb open them too. A part the gateway is still writing may end in a half-written flow: `read_flows`
stops there when asked to be lenient."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from mitmproxy import exceptions, http
from mitmproxy import io as flow_io

from contracts.recording import METADATA_KEY, RecordedFacts
from control.errors import ControlError


def read_flows(path: Path, *, lenient: bool = False) -> list[http.HTTPFlow]:
    """The HTTP flows of a recording, in file order. Not a flow file: ControlError `bad_recording`
    (with `lenient`, the flows read before the first unreadable byte)."""
    flows: list[http.HTTPFlow] = []
    try:
        with open(path, "rb") as handle:
            for flow in flow_io.FlowReader(handle).stream():
                if isinstance(flow, http.HTTPFlow):
                    flows.append(flow)
    except OSError as exc:
        raise ControlError(
            "bad_recording", f"cannot read the recording {path}: {exc.strerror or exc}"
        ) from None
    except exceptions.FlowReadException as exc:
        if not lenient:
            raise ControlError(
                "bad_recording",
                f"{path} is not a complete mitmproxy flow file ({exc}; {len(flows)} flows read)",
            ) from None
    return flows


def facts_of(flow: http.HTTPFlow) -> RecordedFacts | None:
    """What the gateway knew of a recorded flow; None for a flow the gateway did not record."""
    return RecordedFacts.from_dict(flow.metadata.get(METADATA_KEY))


def write_flows(path: Path, flows: Iterable[http.HTTPFlow]) -> int:
    """Write the flows to `path` atomically (a temp file beside it, then a rename); how many."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            writer = flow_io.FlowWriter(handle)
            for flow in flows:
                writer.add(flow)
                written += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return written
