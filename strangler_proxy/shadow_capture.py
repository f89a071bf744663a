"""Shadow addon: on routes in mode `shadow`, legacy answers the client while the gateway sends a copy of the
request to the target (and, when configured, to a secondary legacy instance and a second time to the
target), then publishes the shadow pair for the comparator (shadow/pairs.py, shadow/transport.py).

The client's path never waits for shadow work: the `request` hook only snapshots the request and starts a
background task; legacy's answer arrives in the `response` hook (the Forwarder runs after this addon, so
that no request hook runs once the request has left: see addon.py). The copies have their
own aiohttp client, timeout and bulkhead (full: the copy is skipped, never queued), so a slow or dead
candidate costs the client nothing. HEAD is not mirrored: there is no body to compare, and servers that
send one anyway (gunicorn serving Django) break the copy. The pair is offered to a
BackgroundPublisher, which never blocks or raises: a full buffer drops the pair and counts it.

Who is mirrored: the route's flag (the Router's decision; a percentage rollout is sticky per user), then
the route's `shadow.sample` percentage, sticky per user (else per credential, else per client address).
Writes are mirrored only on routes that declare `shadow.writes` (routes_parser refuses the route table
otherwise); their copies carry `X-Strangler-Shadow: 1` (EdgeIdentity strips any client-sent one) and an
Idempotency-Key replaced by `shadow-<hmac of the original>`, and they never go to the secondary (a legacy
instance has no dry-run mode). Read copies carry the marker too, so a target can always tell shadow
traffic apart.

Credentials: legacy's request has been made for the monolith (IdentityHeader swapped a JWT for the signed
X-Strangler-Identity). Copies to the target (candidate, candidate2) carry the client's original
Authorization instead (kept in flow.metadata by IdentityHeader) and never the identity header; copies to
the secondary legacy instance carry exactly what the primary got. The published pair records the target's
view (Authorization redacted by shadow/pairs.py, no identity header).

(Not named shadow.py: mitmdump puts this directory first on sys.path when it loads addon.py as a script,
and a module named `shadow` here would hide the top-level `shadow` package.)
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

import aiohttp
from mitmproxy import ctx, exceptions, http
from mitmproxy.utils import human

from kernel.resilience import Bulkhead, BulkheadFull
from shadow.pairs import DEFAULT_BODY_LIMIT, Exchange, ShadowPair
from shadow.transport import BackgroundPublisher, open_publisher, parse_queue_url, queue_url_from_env
from strangler_proxy.jwt_auth import BEARER_KEY
from strangler_proxy.metrics import child
from strangler_proxy.routes import (
    ANONYMOUS,
    Decision,
    Route,
    RouteTable,
    ShadowOptions,
    Upstream,
)
from strangler_proxy.routes_parser import RoutesError, load_routes
from strangler_proxy.routing import DECISION_KEY, FORWARD_KEY, IDENTITY_KEY
from strangler_proxy.shadow_copies import (
    CAPTURE_KEY,
    COPY_ERRORS,
    COPY_LATENCY,
    DEV_KEY_SECRET,
    DROPPED,
    MIRRORED,
    PUBLISHED,
    SKIP_AUTO_HEADERS,
    SKIPPED,
    Capture,
    elapsed_ms,
    is_write,
    sampled,
    send_copy,
    service_fields,
    sticky_key,
)
from strangler_proxy.tracing import TRACE_KEY

logger = logging.getLogger(__name__)

# --- the addon ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShadowSettings:
    queue_url: str
    body_limit: int
    buffer: int
    key_secret: bytes


class Shadow:
    """Options: strangler_shadow_queue (SHADOW_QUEUE_URL; default: BROKER_URL's AMQP broker, else the file
    queue under var/shadow/queue), strangler_shadow_body_limit, strangler_shadow_buffer,
    strangler_shadow_key_secret (SHADOW_KEY_SECRET). Reads the route table of the Router's
    `strangler_routes` (or the one given)."""

    def __init__(self, table: RouteTable | None = None, publisher: BackgroundPublisher | None = None) -> None:
        self._given_table = table
        self._routes_source: str | None = None
        self.routes: dict[str, Route] = self._shadow_routes(table) if table else {}
        self.settings: ShadowSettings | None = None
        self.publisher = publisher
        self._owns_publisher = publisher is None
        self._session: aiohttp.ClientSession | None = None
        self._bulkheads: dict[tuple[str, str, int], Bulkhead] = {}
        self._tasks: set[asyncio.Task] = set()
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_shadow_queue",
            str,
            queue_url_from_env(),
            "Where shadow pairs go: amqp://... (topic exchange strangler.shadow) or file:///dir (the file "
            "queue). Default: SHADOW_QUEUE_URL, else BROKER_URL when it is AMQP, else var/shadow/queue.",
        )
        loader.add_option(
            "strangler_shadow_body_limit",
            str,
            "64k",
            "Bytes of each body kept in a shadow pair; larger bodies are cut there (their sha256 is kept).",
        )
        loader.add_option(
            "strangler_shadow_buffer",
            int,
            10_000,
            "Shadow pairs waiting to be published before new ones drop.",
        )
        loader.add_option(
            "strangler_shadow_key_secret",
            str,
            os.environ.get("SHADOW_KEY_SECRET") or DEV_KEY_SECRET,
            "HMAC key of the Idempotency-Key a mirrored write carries (SHADOW_KEY_SECRET).",
        )

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        if self._given_table is None and (self._routes_source is None or "strangler_routes" in updated):
            path = getattr(options, "strangler_routes", None)
            if path:
                try:
                    self.routes = self._shadow_routes(load_routes(path))
                except RoutesError as exc:
                    raise exceptions.OptionsError(str(exc)) from None
                self._routes_source = path
        if self.settings is not None and not any(name.startswith("strangler_shadow") for name in updated):
            return
        try:
            parse_queue_url(options.strangler_shadow_queue)
            limit = human.parse_size(options.strangler_shadow_body_limit)
        except ValueError as exc:
            raise exceptions.OptionsError(f"Shadow: {exc}") from None
        if not limit:
            raise exceptions.OptionsError("strangler_shadow_body_limit must be a positive size such as 64k")
        if options.strangler_shadow_buffer < 1:
            raise exceptions.OptionsError("strangler_shadow_buffer must be at least 1")
        settings = ShadowSettings(
            queue_url=options.strangler_shadow_queue,
            body_limit=limit,
            buffer=options.strangler_shadow_buffer,
            key_secret=options.strangler_shadow_key_secret.encode(),
        )
        if (
            self._owns_publisher
            and self.routes
            and (
                self.publisher is None
                or self.settings is None
                or (settings.queue_url, settings.buffer) != (self.settings.queue_url, self.settings.buffer)
            )
        ):
            if self.publisher is not None:
                self.publisher.close(timeout=1.0)
            url = settings.queue_url
            self.publisher = BackgroundPublisher(
                lambda: open_publisher(url),
                maxsize=settings.buffer,
                on_publish=_published,
                on_drop=_dropped,
            )
        self.settings = settings

    @staticmethod
    def _shadow_routes(table: RouteTable) -> dict[str, Route]:
        return {route.id: route for route in table.routes if route.mode == "shadow"}

    # --- per request ---------------------------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(DECISION_KEY)
        if decision is None or decision.mode != "shadow" or flow.error or self.publisher is None:
            return
        route = self.routes.get(decision.route_id)
        if route is None:
            return
        if decision.shadow is None:
            child(SKIPPED, route.id, "flag_off").inc()
            return
        request = flow.request
        if request.method == "HEAD":  # no body to compare, and servers that send one anyway break the copy
            child(SKIPPED, route.id, "head").inc()
            return
        body = request.raw_content
        if body is None:  # streamed by mitmproxy: there is nothing to send a copy of
            child(SKIPPED, route.id, "streamed").inc()
            return
        options = route.shadow or ShadowOptions()
        write = is_write(request.method)
        if write and options.writes is None:  # routes_parser refuses such a table; never mirror anyway
            child(SKIPPED, route.id, "write_not_declared").inc()
            return
        if not sampled(route.id, sticky_key(flow), options.sample):
            child(SKIPPED, route.id, "not_sampled").inc()
            return
        trace = flow.metadata.get(TRACE_KEY)
        identity = flow.metadata.get(IDENTITY_KEY, ANONYMOUS)
        header_fields = list(request.headers.items(multi=True))
        capture = Capture(
            route=route,
            options=options,
            target=decision.shadow,
            method=request.method,
            target_path=request.path,
            header_fields=header_fields,
            service_fields=service_fields(header_fields, flow.metadata.get(BEARER_KEY)),
            body=body,
            trace_id=trace.trace_id if trace else "",
            user=identity.user_id,
            write=write,
            received=request.timestamp_start,
        )
        flow.metadata[CAPTURE_KEY] = capture
        if flow.response is not None:  # the Forwarder already has legacy's answer
            self._primary_answered(flow, capture)
        child(MIRRORED, route.id).inc()
        # Not eager: mitmproxy runs its loop with asyncio.eager_task_factory, under which create_task() would
        # run the mirror (the copies' aiohttp requests, the pair) in this hook, before the client's answer.
        task = asyncio.Task(self._mirror(capture), loop=asyncio.get_running_loop(), eager_start=False)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def response(self, flow: http.HTTPFlow) -> None:
        capture: Capture | None = flow.metadata.get(CAPTURE_KEY)
        if capture is not None and not capture.primary.done():
            self._primary_answered(flow, capture)

    def error(self, flow: http.HTTPFlow) -> None:
        capture: Capture | None = flow.metadata.get(CAPTURE_KEY)
        if capture is not None and not capture.primary.done():
            capture.primary.set_result(("error", str(flow.error.msg if flow.error else "error"), None))

    @staticmethod
    def _primary_answered(flow: http.HTTPFlow, capture: Capture) -> None:
        forward = flow.metadata.get(FORWARD_KEY)
        elapsed = getattr(forward, "latency_ms", None)
        if elapsed is None or not elapsed:
            elapsed = (time.time() - flow.request.timestamp_start) * 1000
        capture.primary.set_result(("response", flow.response, elapsed))

    # --- the background part -------------------------------------------------------------------------

    async def _mirror(self, capture: Capture) -> None:
        try:
            pair = await self._pair(capture)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must never reach the client's flow
            logger.exception("shadow capture of %s failed", capture.route.id)
            return
        self.publisher.offer(pair)

    async def _pair(self, capture: Capture) -> ShadowPair:
        options = capture.options
        jobs = [self._copy(capture, capture.target, "candidate")]
        if options.candidate_repeats == 2:
            jobs.append(self._copy(capture, capture.target, "candidate2"))
        if options.secondary is not None and not capture.write:
            jobs.append(self._copy(capture, options.secondary, "secondary"))
        results = await asyncio.gather(*jobs)
        answers = {exchange_role: exchange for exchange_role, exchange in results}
        primary = await self._primary(capture)
        path, _, query = capture.target_path.partition("?")
        return ShadowPair.build(
            route=capture.route.id,
            trace_id=capture.trace_id,
            user=capture.user,
            method=capture.method,
            path=path,
            query=query,
            header_fields=capture.service_fields,
            body=capture.body,
            primary=primary,
            candidate=answers["candidate"],
            secondary=answers.get("secondary"),
            candidate2=answers.get("candidate2"),
            limit=self.settings.body_limit if self.settings else DEFAULT_BODY_LIMIT,
        )

    async def _primary(self, capture: Capture) -> Exchange:
        limit = self.settings.body_limit if self.settings else DEFAULT_BODY_LIMIT
        if capture.primary.done():  # the usual case: legacy answered while the copies ran
            kind, value, elapsed = capture.primary.result()
        else:
            try:
                kind, value, elapsed = await asyncio.wait_for(
                    asyncio.shield(capture.primary), capture.route.timeout + capture.options.timeout
                )
            except TimeoutError:
                return Exchange.failed("no_answer", (capture.route.timeout + capture.options.timeout) * 1000)
        if kind == "error":
            return Exchange.failed(value, 0.0)
        response: http.Response = value
        raw = response.raw_content
        if raw is None:  # mitmproxy streamed it to the client
            return Exchange.answered(
                response.status_code, response.headers.items(multi=True), b"", elapsed, error="body_streamed"
            )
        body = response.get_content(strict=False) or b""  # decoded, as the copies' answers are
        fields = [(k, v) for k, v in response.headers.items(multi=True) if k.lower() != "content-encoding"]
        return Exchange.answered(response.status_code, fields, body, elapsed, limit=limit)

    async def _copy(self, capture: Capture, upstream: Upstream, role: str) -> tuple[str, Exchange]:
        route, options = capture.route, capture.options
        started = time.perf_counter()
        bulkhead = self._bulkhead(route.id, upstream.name, options.bulkhead)
        try:
            await bulkhead.acquire()
        except BulkheadFull:
            return role, self._copy_failed(route.id, role, "bulkhead_full", started)
        try:
            exchange = await send_copy(
                self._client(),
                capture,
                upstream,
                started,
                to_service=role != "secondary",
                timeout=self._timeout(options.timeout),
                limit=self.settings.body_limit if self.settings else DEFAULT_BODY_LIMIT,
                secret=self.settings.key_secret if self.settings else DEV_KEY_SECRET.encode(),
            )
        finally:
            bulkhead.release()
        elapsed = time.perf_counter() - started
        child(COPY_LATENCY, route.id, role).observe(elapsed)
        if exchange.error is not None:
            child(COPY_ERRORS, route.id, role, exchange.error).inc()
        return role, exchange

    def _copy_failed(self, route_id: str, role: str, reason: str, started: float) -> Exchange:
        child(COPY_ERRORS, route_id, role, reason).inc()
        return Exchange.failed(reason, elapsed_ms(started))

    def _timeout(self, total: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(total)
        if timeout is None:
            timeout = self._timeouts[total] = aiohttp.ClientTimeout(total=total, sock_connect=min(2.0, total))
        return timeout

    def _bulkhead(self, route_id: str, upstream: str, limit: int) -> Bulkhead:
        key = (route_id, upstream, limit)
        bulkhead = self._bulkheads.get(key)
        if bulkhead is None:  # no queueing: a copy that cannot start at once is not worth waiting for
            bulkhead = self._bulkheads[key] = Bulkhead(f"shadow:{route_id}->{upstream}", limit, 0.0)
        return bulkhead

    def _client(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed:
            session = self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=1.5, ttl_dns_cache=300),
                auto_decompress=True,  # bodies are compared decoded
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=SKIP_AUTO_HEADERS,
                trust_env=False,
                requote_redirect_url=False,
            )
        return session

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for the mirrors in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def done(self) -> None:
        await self.drain(timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if self._owns_publisher and self.publisher is not None:
            publisher, self.publisher = self.publisher, None
            await asyncio.get_running_loop().run_in_executor(None, publisher.close, 3.0)


def _published(pair: ShadowPair) -> None:
    child(PUBLISHED, pair.route).inc()


def _dropped(reason: str) -> None:
    child(DROPPED, reason).inc()
