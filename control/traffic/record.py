"""`traffic record`: ask every gateway process to record routes for a bounded time or count, wait, and merge
what they wrote into one flow file.

The request is the file the gateway's Recorder polls (contracts/recording.py). Each gateway process that
picks it up creates its part at once and writes at most `max_flows`; this command ends the recording when
its time is up, when the parts together hold `max_flows`, or when it is interrupted (SIGINT/SIGTERM: what
was recorded is kept), then marks the request stopped, waits for the gateways to close their parts, merges
them by time (cut at `max_flows`), writes FILE atomically and removes the parts."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from contracts.recording import POLL_SECONDS, BadRecordingRequest, RecordingRequest
from control.errors import ControlError
from control.routes_file import load_route_infos
from control.traffic.flowfile import facts_of, read_flows, write_flows
from kernel.files import write_atomically

STOP_GRACE = 4 * POLL_SECONDS + 0.5  # every gateway process sees `stopped` and closes its part


@dataclass
class Progress:
    processes: int
    flows: int
    seconds_left: float


@dataclass
class RecordResult:
    output: Path
    recording: str
    routes: list[str]
    flows: int
    processes: int
    ended_by: str  # time | count | interrupted
    seconds: float
    by_route: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "recording": self.recording,
            "routes": self.routes,
            "flows": self.flows,
            "processes": self.processes,
            "ended_by": self.ended_by,
            "seconds": round(self.seconds, 3),
            "by_route": self.by_route,
            "by_status": self.by_status,
        }


def _check_routes(routes: list[str]) -> None:
    known = load_route_infos()
    unknown = [r for r in routes if r != "*" and r not in known]
    if unknown:
        raise ControlError("unknown_route", f"not in the route table: {', '.join(unknown)}")


def _refuse_if_recording(control: Path, now: float) -> None:
    try:
        current = RecordingRequest.from_json(control.read_text(encoding="utf-8"))
    except (OSError, BadRecordingRequest):
        return
    if current.active(now):
        raise ControlError(
            "recording_in_progress",
            f"recording {current.id} of {', '.join(current.routes)} is in progress until "
            f"{time.strftime('%H:%M:%S', time.localtime(current.until))} ({control}); wait or stop it",
        )


def _count(request: RecordingRequest) -> tuple[int, int]:
    parts = request.part_paths()
    return len(parts), sum(len(read_flows(part, lenient=True)) for part in parts)


def traffic_record(
    *,
    routes: list[str],
    seconds: float,
    max_flows: int,
    output: Path,
    control: Path,
    stop: threading.Event | None = None,
    on_progress: Callable[[Progress], None] = lambda progress: None,
    poll: float = 0.5,
) -> RecordResult:
    if seconds <= 0 or max_flows < 1:
        raise ControlError("bad_bounds", "--for must be more than 0 and --max at least 1")
    _check_routes(routes)
    started = time.time()
    _refuse_if_recording(control, started)
    request = RecordingRequest(
        id=uuid.uuid4().hex[:16],
        routes=tuple(routes),
        until=started + seconds,
        max_flows=max_flows,
        directory=str(control.parent / "parts"),
        started_at=started,
    )
    Path(request.directory).mkdir(parents=True, exist_ok=True)
    write_atomically(control, request.to_json())
    stop = stop or threading.Event()
    ended_by = "time"
    try:
        while True:
            processes, flows = _count(request)
            left = request.until - time.time()
            on_progress(Progress(processes, flows, max(0.0, left)))
            if flows >= max_flows:
                ended_by = "count"
                break
            if left <= 0:
                break
            if stop.wait(min(poll, left)):
                ended_by = "interrupted"
                break
    finally:
        write_atomically(control, replace(request, stopped=True).to_json())
    time.sleep(STOP_GRACE)
    control.unlink(missing_ok=True)
    parts = request.part_paths()
    if not parts:
        raise ControlError(
            "no_gateway",
            f"no gateway process picked the recording up in {time.time() - started:.0f} s: is the gateway "
            f"running with GATEWAY_RECORD_CONTROL={control} (its strangler_record_control)?",
        )
    flows = [flow for part in parts for flow in read_flows(part, lenient=True)]
    flows.sort(key=lambda flow: flow.request.timestamp_start or 0.0)
    kept = flows[:max_flows]
    write_flows(output, kept)
    for part in parts:
        part.unlink(missing_ok=True)
    by_route = Counter((facts_of(flow).route if facts_of(flow) else "?") for flow in kept)
    by_status = Counter(str(flow.response.status_code if flow.response else "none") for flow in kept)
    return RecordResult(
        output=output,
        recording=request.id,
        routes=list(routes),
        flows=len(kept),
        processes=len(parts),
        ended_by=ended_by,
        seconds=time.time() - started,
        by_route=dict(sorted(by_route.items())),
        by_status=dict(sorted(by_status.items())),
    )
