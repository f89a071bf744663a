"""What a client can hold at the gateway: the size of a request head while it is being read, the time a
head may take, the time an idle keep-alive connection is kept, and connections per client address.

mitmproxy 12 buffers a request head until its blank line with no limit ("FIXME: protect against header
size DoS" in its HTTP/1 server) and only closes a connection after `tcp_timeout` (600 s) without a single
byte, so one dribbled byte a minute holds a connection forever. `install()` wraps the HTTP/1 server
layer's event handler (module `mitmproxy.proxy.layers.http._http1`, like protocol_errors.py):

- head size: once the buffered part of an unfinished head passes `max_head_bytes`, the client gets 431 and
  the connection is closed, before the rest is read;
- head deadline: a head whose first byte arrived `head_timeout` seconds ago and is still not complete
  gets 408 and the connection is closed;
- idle timeout: a connection waiting for its next request for `idle_timeout` seconds is closed without an
  answer (RFC 9112 9.8).
- silent connection: a new connection that never sends a byte (or too few for mitmproxy to pick a protocol,
  or a TLS handshake that stalls) reaches no HTTP layer, so none of the above sees it, and mitmproxy's own
  `tcp_timeout` (600 s) would keep it. The addon closes a connection that has not reached its HTTP/1 layer
  `head_timeout` seconds after it was accepted.

Timers are the layer's own RequestWakeup commands. The ConnectionLimits addon declares the options,
refuses a client address's connection past `strangler_max_client_connections` (per worker process) in
mitmproxy's client_connected hook, and gives memory back to the system after a storm of connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass

from mitmproxy import connection, ctx, exceptions
from mitmproxy.proxy import commands, events
from mitmproxy.proxy.layers.http import _http1

from strangler_proxy.protocol_errors import error_response_bytes

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Limits:
    """The process's limits (one HTTP/1 layer class for every connection, so one set per process)."""

    max_head_bytes: int = 64 * 1024
    head_timeout: float = 10.0
    idle_timeout: float = 60.0


LIMITS = Limits()
_REACHED_HTTP: set[str] = set()  # ids of client connections whose HTTP/1 layer has started
_HEAD_END = re.compile(rb"\n\r?\n")  # where the HTTP/1 reader ends a head
_original_handle_event = _http1.Http1Server._handle_event


class _Deadline(commands.RequestWakeup):
    """Our wakeup (a subclass, so it is never mistaken for another layer's)."""


def _waiting_for_head(layer: _http1.Http1Server) -> bool:
    return layer.state == layer.read_headers


def _refuse(layer: _http1.Http1Server, status: int, message: str):
    yield commands.SendData(layer.conn, error_response_bytes(status, message))
    yield commands.CloseConnection(layer.conn)
    layer.state = layer.done


def _arm(layer: _http1.Http1Server, deadline: float):
    """A wakeup at `deadline`, unless one is already due by then (an earlier head deadline than the idle
    wakeup armed before the first byte gets its own; a wakeup that comes too early re-arms)."""
    layer._strangler_deadline = deadline
    if getattr(layer, "_strangler_wakeup_at", float("inf")) > deadline:
        layer._strangler_wakeup_at = deadline
        yield _Deadline(max(0.0, deadline - time.monotonic()))


def _handle_event_bounded(self: _http1.Http1Server, event: events.Event):
    if isinstance(event, events.Start):
        _REACHED_HTTP.add(self.conn.id)
    if isinstance(event, events.Wakeup) and isinstance(event.command, _Deadline):
        if time.monotonic() >= getattr(self, "_strangler_wakeup_at", 0.0):
            self._strangler_wakeup_at = float("inf")  # no wakeup pending any more
        if not _waiting_for_head(self):
            return  # a request is being served: its own timeouts apply
        remaining = self._strangler_deadline - time.monotonic()
        if remaining > 0:
            yield from _arm(self, self._strangler_deadline)
        elif self.buf:
            yield from _refuse(self, 408, "The request head did not arrive in time.")
        else:
            yield commands.CloseConnection(self.conn)  # idle keep-alive connection
            self.state = self.done
        return
    if isinstance(event, events.DataReceived) and _waiting_for_head(self):
        if not self.buf and event.data:  # the first byte of a head: its deadline starts now
            self._strangler_deadline = time.monotonic() + LIMITS.head_timeout
        unread = len(self.buf) + len(event.data)
        if unread > LIMITS.max_head_bytes and not _HEAD_END.search(bytes(self.buf) + event.data):
            yield from _refuse(self, 431, "The request head is too large.")
            return
    yield from _original_handle_event(self, event)
    if _waiting_for_head(self):
        if not self.buf:  # between requests (or before the first): the idle timeout runs
            self._strangler_deadline = time.monotonic() + LIMITS.idle_timeout
        yield from _arm(self, self._strangler_deadline)


def install() -> None:
    """Idempotent; affects every HTTP/1 client connection of this process."""
    _http1.Http1Server._handle_event = _handle_event_bounded


def uninstall() -> None:
    _http1.Http1Server._handle_event = _original_handle_event


TRIM_AFTER = 1000  # connections closed since the last trim
TRIM_WHEN_OPEN_AT_MOST = 64
TRIM_QUIET_SECONDS = 1.0


def give_memory_back() -> None:
    """After a storm of connections (thousands of slow or refused clients) the worker's heap is full of
    freed blocks that glibc keeps; collect the garbage and hand the free pages back to the system, so the
    worker's RSS returns to where it was (measured: bench/gateway_resources.py)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL(None).malloc_trim(0)


class ConnectionLimits:
    """Options: strangler_max_head_bytes, strangler_head_timeout, strangler_idle_timeout,
    strangler_max_client_connections (0: no cap)."""

    def __init__(self) -> None:
        self.max_per_client = 256
        self.open: Counter[str] = Counter()
        self._counted: dict[str, str] = {}  # client connection id -> address counted
        self._silence: dict[str, asyncio.TimerHandle] = {}  # client connection id -> its first-words deadline
        self._closed_since_trim = 0
        self._trim: asyncio.TimerHandle | None = None

    def load(self, loader) -> None:
        loader.add_option(
            "strangler_max_head_bytes",
            int,
            64 * 1024,
            "Largest request head (request line and header block) read from a client: past it, 431 and the "
            "connection is closed before the rest is buffered.",
        )
        loader.add_option(
            "strangler_head_timeout",
            str,
            "10",
            "Seconds a request head may take from its first byte (408); also the seconds a new connection "
            "has to start its HTTP exchange (closed if it stays silent).",
        )
        loader.add_option(
            "strangler_idle_timeout",
            str,
            "60",
            "Seconds a client connection may wait for its next request before it is closed.",
        )
        loader.add_option(
            "strangler_max_client_connections",
            int,
            256,
            "Most connections one client address may hold open to one gateway worker (0: no cap).",
        )

    def configure(self, updated: set[str]) -> None:
        options = ctx.options
        if options.strangler_max_head_bytes < 1024:
            raise exceptions.OptionsError("strangler_max_head_bytes must be at least 1024")
        seconds = {}
        for name in ("strangler_head_timeout", "strangler_idle_timeout"):
            try:
                seconds[name] = float(getattr(options, name))
            except ValueError:
                raise exceptions.OptionsError(f"{name} must be a number of seconds") from None
            if not seconds[name] > 0:
                raise exceptions.OptionsError(f"{name} must be greater than 0")
        if options.strangler_max_client_connections < 0:
            raise exceptions.OptionsError("strangler_max_client_connections must be 0 or more")
        LIMITS.max_head_bytes = options.strangler_max_head_bytes
        LIMITS.head_timeout = seconds["strangler_head_timeout"]
        LIMITS.idle_timeout = seconds["strangler_idle_timeout"]
        self.max_per_client = options.strangler_max_client_connections

    def client_connected(self, client: connection.Client) -> None:
        address = client.peername[0] if client.peername else ""
        if self.max_per_client and self.open[address] >= self.max_per_client:
            client.error = "too many connections from this address"
            return
        self.open[address] += 1
        self._counted[client.id] = address
        loop = asyncio.get_running_loop()
        self._silence[client.id] = loop.call_later(LIMITS.head_timeout, self._close_if_silent, client.id)

    def _close_if_silent(self, client_id: str) -> None:
        """The connection's deadline to reach its HTTP layer has passed: close it unless it did."""
        self._silence.pop(client_id, None)
        if client_id in _REACHED_HTTP:
            return
        proxyserver = ctx.master.addons.get("proxyserver")
        handler = proxyserver.connections.get(client_id) if proxyserver is not None else None
        io = handler.transports.get(handler.client) if handler is not None else None
        if io is not None and io.handler is not None:
            io.handler.cancel("no request in time")  # as mitmproxy's own inactivity timeout closes it

    def client_disconnected(self, client: connection.Client) -> None:
        self._closed_since_trim += 1
        _REACHED_HTTP.discard(client.id)
        if (timer := self._silence.pop(client.id, None)) is not None:
            timer.cancel()
        address = self._counted.pop(client.id, None)
        if address is not None:
            self.open[address] -= 1
            if self.open[address] <= 0:
                del self.open[address]
        if self._closed_since_trim >= TRIM_AFTER:  # a storm: trim once it has been quiet for a second
            if self._trim is not None:
                self._trim.cancel()
            self._trim = asyncio.get_running_loop().call_later(TRIM_QUIET_SECONDS, self._give_memory_back)

    def _give_memory_back(self) -> None:
        self._trim = None
        if len(self._counted) <= TRIM_WHEN_OPEN_AT_MOST:
            self._closed_since_trim = 0
            give_memory_back()
