"""`traffic replay`: send the requests of a recording to a candidate upstream, in recorded order, at most
`rate` per second, and keep each answer beside the recorded one.

What is sent is the recorded request: method, path and query, body, and headers (with the Host the
upstream saw, so links the candidate renders compare with legacy's), without hop-by-hop headers and
without any header the recording redacted (a replay runs without the user's credentials unless `--header`
adds some). Writes (any method but GET, HEAD, OPTIONS) are skipped unless asked for; then they carry the
shadow mode's dry-run marker `X-Strangler-Shadow: 1` and their Idempotency-Key is replaced by one derived
from it (`replay-<sha256>`), so a candidate that keeps the shadow contract changes nothing and a
candidate that does not at least never mistakes the replay for the original request."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from mitmproxy import http

from contracts.recording import REDACTED, RecordedFacts
from control.errors import ControlError
from control.traffic.flowfile import facts_of

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NOT_SENT = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
     "content-length"}
)  # fmt: skip
SHADOW_MARKER = "X-Strangler-Shadow"


@dataclass(frozen=True)
class Answer:
    """The candidate's answer to one replayed request (status 0 and `error` when there was none)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed_ms: float
    error: str | None = None


@dataclass(frozen=True)
class Replayed:
    flow: http.HTTPFlow
    facts: RecordedFacts | None
    answers: tuple[Answer, ...] = ()  # one per repeat; empty when skipped
    skipped: str = ""  # why it was not sent (a write, another route)


def base_url(target: str, upstreams: dict[str, str]) -> str:
    """`--target`: an upstream of the route table by name, or an http(s) URL."""
    url = upstreams.get(target, target)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        known = ", ".join(sorted(upstreams)) or "none"
        raise ControlError(
            "bad_target",
            f"--target {target!r}: give an upstream of the route table ({known}) or an http(s) URL",
        )
    return url.rstrip("/")


def request_headers(flow: http.HTTPFlow, extra: Sequence[tuple[str, str]], write: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in flow.request.headers.items(multi=True):
        lower = name.lower()
        if lower in NOT_SENT or value == REDACTED:
            continue
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    for name, value in extra:
        headers[name] = value
    if write:
        headers[SHADOW_MARKER] = "1"
        for name in [n for n in headers if n.lower() == "idempotency-key"]:
            headers[name] = "replay-" + hashlib.sha256(headers[name].encode()).hexdigest()[:40]
    headers.setdefault("Accept-Encoding", "identity")
    return headers


def send(
    session: requests.Session, url: str, flow: http.HTTPFlow, headers: dict[str, str], timeout: float
) -> Answer:
    started = time.perf_counter()
    try:
        answer = session.request(
            flow.request.method,
            url + flow.request.path,
            headers=headers,
            data=flow.request.get_content(strict=False) or None,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.Timeout:
        return Answer(0, (), b"", (time.perf_counter() - started) * 1000, "timeout")
    except requests.ConnectionError:
        return Answer(0, (), b"", (time.perf_counter() - started) * 1000, "connect_failed")
    return Answer(
        answer.status_code,
        tuple(answer.headers.items()),
        answer.content,
        (time.perf_counter() - started) * 1000,
    )


def replay(
    flows: Sequence[http.HTTPFlow],
    *,
    target: str,
    rate: float | None = None,
    repeats: int = 1,
    timeout: float = 30.0,
    headers: Sequence[tuple[str, str]] = (),
    routes: Sequence[str] = (),
    include_writes: bool = False,
    on_each: Callable[[Replayed], None] = lambda replayed: None,
) -> Iterator[Replayed]:
    """Each recorded flow and the candidate's answer(s), in recorded order, paced at `rate` per second."""
    period = 1.0 / rate if rate else 0.0
    next_at = time.monotonic()
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and the candidate
        for flow in flows:
            facts = facts_of(flow)
            route = facts.route if facts else None
            method = flow.request.method.upper()
            if routes and route not in routes:
                replayed = Replayed(flow, facts, skipped="route")
            elif method not in SAFE_METHODS and not include_writes:
                replayed = Replayed(flow, facts, skipped="write")
            else:
                wait = next_at - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                next_at = max(next_at, time.monotonic()) + period
                sent = request_headers(flow, headers, write=method not in SAFE_METHODS)
                answers = tuple(send(session, target, flow, sent, timeout) for _ in range(repeats))
                replayed = Replayed(flow, facts, answers)
            on_each(replayed)
            yield replayed
