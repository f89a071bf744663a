"""Forwarder addon: calls the chosen upstream itself through one pooled aiohttp client, inside the route's
bulkhead and the circuit breaker of (route, upstream), and falls back to legacy when the target fails.

Why: mitmproxy opens one upstream connection per client connection and never shares them; the pooled
client keeps warm keep-alive connections per upstream across all clients (aiohttp was picked over httpx:
~4-10x less client CPU per request in a micro-benchmark, see the gateway report).

Which flows it handles: every flow the Router decided (flow.metadata["strangler.decision"]) whose request
body is buffered. Left to mitmproxy's own forwarding, which streams them (stream_large_bodies) so memory
stays flat: requests whose body mitmproxy streams (larger than stream_large_bodies, or chunked and
growing past it), upgrades (WebSocket), HEAD (see left_to_mitmproxy), and answers to safe requests
(GET/OPTIONS/TRACE) larger than `strangler_buffer_limit`: the pooled call is abandoned after the headers
(or the first `strangler_buffer_limit` bytes of a chunked body) and mitmproxy sends the request again, so
such an upstream sees it twice. Answers to other methods are always buffered (they cannot be sent twice).

Fallback rule (resilience.may_fall_back): when the target fails (transport error, timeout, a status of
`strangler_breaker_failure_statuses`, its breaker open, its bulkhead full) and the decision has a fallback,
idempotent requests (decision.idempotent: RFC 9110 idempotent methods or an Idempotency-Key) are answered
by the fallback; but a request that only has an Idempotency-Key falls back only if the target never got it.
Everything else gets 503 {"code": "upstream_unavailable", "extra": {"upstream", "reason"}}, with
Retry-After when the breaker is open or the bulkhead full (unless the target answered: its answer is kept).

Modules: forwarding_settings (options), upstream_call (one HTTP call), breakers (breakers per route and
upstream, shared by the workers).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from mitmproxy import ctx, exceptions, http

from kernel.resilience import BreakerOpen, BreakerState, Bulkhead, BulkheadFull, CircuitBreaker
from strangler_proxy import metrics
from strangler_proxy.breakers import BreakerKey, Breakers, shared_board
from strangler_proxy.forwarding_settings import ForwarderSettings, declare_options, parse_settings
from strangler_proxy.gateway_errors import answer, error_response
from strangler_proxy.resilience import may_fall_back, retry_after_header
from strangler_proxy.routes import GATEWAY, Decision, Upstream
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY, UPSTREAM_HEADER, rewrite_to
from strangler_proxy.upstream_call import Attempt, pooled_session, send

PASSTHROUGH_KEY = "strangler.passthrough"  # "request" (mitmproxy streams it) or "response" (re-sent)


@dataclass(frozen=True, slots=True)
class ForwardResult:
    """What the Forwarder did (flow.metadata["strangler.forward"]). `upstream_name` is the upstream that
    answered (legacy after a fallback); `status` 0 when nobody answered (our 503) or mitmproxy forwards it
    (`passthrough`); `breaker_state` is the target's breaker state after the call."""

    upstream_name: str
    status: int
    latency_ms: float
    fallback: bool
    breaker_state: str
    error: str | None
    passthrough: bool = False


class Forwarder:
    """Options: see forwarding_settings. State: one aiohttp session; breakers per (route, upstream), shared
    with the other workers when the runner gave this process a board; bulkheads per (route, upstream)
    sized by the route's `bulkhead`."""

    def __init__(self, *, clock=time.monotonic) -> None:
        self.settings: ForwarderSettings | None = None
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self.breakers: Breakers | None = None
        self._bulkheads: dict[tuple[str | None, str, int], Bulkhead] = {}
        self._client_timeouts: dict[tuple[str, float], aiohttp.ClientTimeout] = {}

    # --- configuration ---------------------------------------------------------------------------------

    def load(self, loader) -> None:
        declare_options(loader)

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        # mitmproxy streams what the Forwarder leaves to it only if stream_large_bodies is set.
        streaming = getattr(options, "stream_large_bodies", "unknown")  # declared by Proxyserver
        if streaming is None or streaming == "":
            options.update(stream_large_bodies=options.strangler_buffer_limit)
        if self.settings is not None and not any(name.startswith("strangler_") for name in updated):
            return
        try:
            settings = parse_settings(options)
        except ValueError as exc:
            raise exceptions.OptionsError(f"Forwarder: {exc}") from None
        if self.breakers is None or settings.breaker != self.settings.breaker:
            board = shared_board() if self._clock is time.monotonic else None
            self.breakers = Breakers(
                settings.breaker, board=board, clock=self._clock, on_change=_breaker_changed
            )
        if self.settings is not None and settings.queue_timeout != self.settings.queue_timeout:
            self._bulkheads.clear()  # calls in flight release their old bulkhead; new ones use new ones
        if self.settings is not None and settings.keepalive != self.settings.keepalive:
            self._close_session_later()
        self.settings = settings
        self._client_timeouts.clear()

    async def running(self) -> None:
        self._client()

    async def done(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _close_session_later(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            asyncio.get_running_loop().create_task(session.close())

    # --- per request -----------------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """A request left to mitmproxy (see left_to_mitmproxy) is sent on once this hook returns: only the
        breaker can still divert it (to the fallback, or a 503) before any byte goes out."""
        if flow.response or flow.error or not left_to_mitmproxy(flow.request) or not self._enabled():
            return
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is None or decision.upstream is GATEWAY:
            return
        flow.metadata[PASSTHROUGH_KEY] = "request"
        breaker = self.breaker_of(decision, decision.upstream)
        if breaker.state is not BreakerState.OPEN or breaker.retry_after() <= 0:
            return
        if decision.fallback is not None and may_fall_back(
            method=flow.request.method, idempotent=decision.idempotent, reached_target=False
        ):
            rewrite_to(flow.request, decision.fallback)
            metrics.observe_fallback(decision, decision.fallback.name)
            flow.metadata[FORWARD_KEY] = ForwardResult(
                decision.fallback.name, 0, 0.0, True, breaker.state.value, "breaker_open", passthrough=True
            )
            return
        attempt = Attempt(decision.upstream, reason="breaker_open", reached=False)
        attempt.retry_after = breaker.retry_after()
        answer(flow, self._unavailable(decision.upstream, attempt, None))

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not self._enabled():
            return
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is None or decision.upstream is GATEWAY or PASSTHROUGH_KEY in flow.metadata:
            return
        request = flow.request
        if left_to_mitmproxy(request):  # a body mitmproxy began streaming late (chunked)
            flow.metadata[PASSTHROUGH_KEY] = "request"
            return
        started = time.perf_counter()
        attempt = await self._call(flow, decision, decision.upstream)
        first = attempt
        fell_back = False
        if (
            attempt.failed
            and decision.fallback is not None
            and decision.fallback != decision.upstream
            and may_fall_back(
                method=request.method, idempotent=decision.idempotent, reached_target=attempt.reached
            )
        ):
            attempt = await self._call(flow, decision, decision.fallback)
            fell_back = True
            metrics.observe_fallback(decision, decision.fallback.name)
        breaker_state = self.breaker_of(decision, decision.upstream).state.value
        latency_ms = (time.perf_counter() - started) * 1000
        upstream = attempt.upstream
        if attempt.passthrough:
            rewrite_to(request, upstream)
            flow.metadata[PASSTHROUGH_KEY] = "response"
            status = 0
        elif attempt.response is not None:
            flow.response = attempt.response
            status = attempt.response.status_code
        else:
            flow.response = self._unavailable(first.upstream, first, attempt if fell_back else None)
            status = 0
        if flow.response is not None:
            flow.response.headers[UPSTREAM_HEADER] = upstream.name
        error = first.reason if not fell_back else f"{first.reason}; fallback: {attempt.reason or 'ok'}"
        flow.metadata[FORWARD_KEY] = ForwardResult(
            upstream.name, status, latency_ms, fell_back, breaker_state, error, attempt.passthrough
        )

    def response(self, flow: http.HTTPFlow) -> None:
        """Flows mitmproxy forwarded itself still get their record; streamed requests (which never went
        through `_call`) also count for the breaker of the upstream that answered."""
        kind = flow.metadata.get(PASSTHROUGH_KEY)
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if kind is None or decision is None or flow.response is None or self.settings is None:
            return
        previous: ForwardResult | None = flow.metadata.get(FORWARD_KEY)
        name = previous.upstream_name if previous else decision.upstream.name
        status = flow.response.status_code
        if kind == "request":
            breaker = self.breakers.get(decision.route_id, name, decision.breaker)
            if status in self.settings.failure_statuses:
                breaker.record_failure()
            else:
                breaker.record_success()
        started = flow.request.timestamp_start
        flow.metadata[FORWARD_KEY] = ForwardResult(
            name,
            status,
            (time.time() - started) * 1000 if started else 0.0,
            bool(previous and previous.fallback),
            self.breaker_of(decision, decision.upstream).state.value,
            previous.error if previous else None,
            passthrough=True,
        )
        flow.response.headers[UPSTREAM_HEADER] = name

    def error(self, flow: http.HTTPFlow) -> None:
        """A streamed flow mitmproxy could not deliver: an upstream failure for the breaker."""
        if flow.metadata.get(PASSTHROUGH_KEY) != "request" or flow.response is not None:
            return
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is not None and flow.server_conn.timestamp_tcp_setup is None:
            self.breaker_of(decision, decision.upstream).record_failure()

    # --- one upstream call -------------------------------------------------------------------------------

    async def _call(self, flow: http.HTTPFlow, decision: Decision, upstream: Upstream) -> Attempt:
        breaker = self.breaker_of(decision, upstream)
        try:
            breaker.acquire()
        except BreakerOpen as exc:
            return Attempt(upstream, reason="breaker_open", reached=False, retry_after=exc.retry_after)
        bulkhead = self._bulkhead(decision.route_id, upstream.name, decision.bulkhead)
        try:
            await bulkhead.acquire()
        except BulkheadFull:
            breaker.release()
            metrics.observe_upstream_failure(upstream.name, "bulkhead_full")
            return Attempt(upstream, reason="bulkhead_full", reached=False, retry_after=1.0)
        verdict: bool | None = None
        settings = self.settings
        try:
            attempt = await send(
                self._client(),
                flow.request,
                upstream,
                self._timeout(upstream, decision.timeout),
                buffer_limit=settings.buffer_limit,
                failure_statuses=settings.failure_statuses,
            )
            verdict = not attempt.failed
        finally:
            bulkhead.release()
            if verdict is True:
                breaker.record_success()
            elif verdict is False:
                breaker.record_failure()
            else:  # cancelled: the client went away; nothing learnt about the upstream
                breaker.release()
        if attempt.failed:
            metrics.observe_upstream_failure(upstream.name, attempt.reason)
        return attempt

    # --- helpers -----------------------------------------------------------------------------------------

    def _enabled(self) -> bool:
        return self.settings is not None and self.settings.enabled

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = pooled_session(self.settings.keepalive if self.settings else 1.5)
        return session

    def _timeout(self, upstream: Upstream, total: float) -> aiohttp.ClientTimeout:
        key = (upstream.name, total)
        timeout = self._client_timeouts.get(key)
        if timeout is None:
            settings = self.settings
            own = settings.timeouts.get(upstream.name, settings.default_timeouts)
            timeout = self._client_timeouts[key] = aiohttp.ClientTimeout(
                total=total, sock_connect=own.connect, sock_read=own.read
            )
        return timeout

    def breaker_of(self, decision: Decision, upstream: Upstream) -> CircuitBreaker:
        """The breaker of (the decision's route, upstream), with the route's thresholds."""
        return self.breakers.get(decision.route_id, upstream.name, decision.breaker)

    def breaker(self, route_id: str | None, upstream_name: str) -> CircuitBreaker:
        """The breaker of one route's upstream as it stands (created closed, with the default thresholds,
        if no request used it yet)."""
        return self.breakers.get(route_id, upstream_name)

    def _bulkhead(self, route_id: str | None, upstream: str, limit: int) -> Bulkhead:
        key = (route_id, upstream, limit)
        bulkhead = self._bulkheads.get(key)
        if bulkhead is None:
            bulkhead = self._bulkheads[key] = Bulkhead(
                f"{route_id or 'default'}->{upstream}", limit, self.settings.queue_timeout
            )
        return bulkhead

    @staticmethod
    def _unavailable(target: Upstream, first: Attempt, fallback: Attempt | None) -> http.Response:
        extra: dict[str, Any] = {"upstream": target.name, "reason": first.reason}
        if fallback is not None:
            extra["fallback"] = {"upstream": fallback.upstream.name, "reason": fallback.reason}
        response = error_response(
            503,
            "upstream_unavailable",
            f"The upstream {target.name} is not available; try again later.",
            extra,
        )
        retry_after = first.retry_after if fallback is None else fallback.retry_after or first.retry_after
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after_header(retry_after)
        return response


def left_to_mitmproxy(request: http.Request) -> bool:
    """Requests mitmproxy forwards itself: a body it streams (over stream_large_bodies), an upgrade
    (WebSocket), and HEAD -- some servers (gunicorn serving Django) send a body to HEAD anyway, and on a
    pooled connection those stray bytes break the answer (aiohttp reads them as the next status line);
    mitmproxy's own per-client connection survives them, and HEAD is too rare to need the pool."""
    return bool(request.stream) or request.method == "HEAD" or "upgrade" in request.headers


def _breaker_changed(key: BreakerKey, new: BreakerState) -> None:
    metrics.observe_breaker_state(key[0], key[1], new)
