"""What the gateway publishes with: `BackgroundPublisher.offer(pair)` never blocks and never raises; a
bounded in-memory queue is drained by one daemon thread; a full queue or a failed publish drops the pair
and counts it."""

from __future__ import annotations

import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from shadow.pairs import ShadowPair

from .addresses import DEFAULT_PUBLISH_BUFFER, Publisher

logger = logging.getLogger(__name__)


@dataclass
class PublisherStats:
    published: int = 0
    dropped: int = 0  # queue full
    failed: int = 0  # the backend raised


class BackgroundPublisher:
    """Never blocks or raises into the caller: `offer` appends the pair to a bounded buffer (full: dropped,
    counted, `on_drop("queue_full")`); one daemon thread hands pairs to the backend (an error:
    `on_drop("publish_failed")`, the backend is reset and retried for the next pair after a short pause).

    The buffer is a deque (append and popleft are atomic): `offer` takes no lock, and wakes the thread
    (an Event) only when the thread had found the buffer empty, so a busy gateway never contends with it."""

    def __init__(
        self,
        backend_factory: Callable[[], Publisher],
        *,
        maxsize: int = DEFAULT_PUBLISH_BUFFER,
        on_publish: Callable[[ShadowPair], None] | None = None,
        on_drop: Callable[[str], None] | None = None,
        retry_pause: float = 1.0,
    ) -> None:
        self._factory = backend_factory
        self._maxsize = maxsize
        self._items: collections.deque[ShadowPair] = collections.deque()
        self._wake = threading.Event()
        self._idle = False
        self._stopping = False
        self._on_publish = on_publish
        self._on_drop = on_drop
        self._retry_pause = retry_pause
        self.stats = PublisherStats()
        self._thread = threading.Thread(target=self._run, name="shadow-publisher", daemon=True)
        self._thread.start()

    def offer(self, pair: ShadowPair) -> bool:
        if self._stopping or len(self._items) >= self._maxsize:
            self._dropped("queue_full")
            return False
        self._items.append(pair)
        if self._idle:
            self._wake.set()
        return True

    def pending(self) -> int:
        return len(self._items)

    def close(self, timeout: float = 5.0) -> None:
        """Publish what is buffered (up to `timeout` seconds), then stop the thread."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    def _dropped(self, reason: str) -> None:
        if reason == "queue_full":
            self.stats.dropped += 1
        else:
            self.stats.failed += 1
        if self._on_drop is not None:
            with contextlib.suppress(Exception):
                self._on_drop(reason)

    def _next(self) -> ShadowPair | None:
        """The oldest buffered pair; waits while there is none; None once closed and drained."""
        items = self._items
        while True:
            if items:
                return items.popleft()
            if self._stopping:
                return None
            self._idle = True
            if not items and not self._stopping:  # re-checked: an offer may have come before _idle was set
                self._wake.wait()
            self._wake.clear()
            self._idle = False

    def _run(self) -> None:
        backend: Publisher | None = None
        not_before = 0.0
        while (item := self._next()) is not None:
            if time.monotonic() < not_before:  # the backend failed a moment ago
                self._dropped("publish_failed")
                continue
            try:
                if backend is None:
                    backend = self._factory()
                backend.publish(item)
            except Exception as exc:
                logger.warning("shadow pair %s not published: %r", item.id, exc)
                self._dropped("publish_failed")
                not_before = time.monotonic() + self._retry_pause
                if backend is not None:
                    reset = getattr(backend, "reset", None)
                    with contextlib.suppress(Exception):
                        reset() if reset else backend.close()
                    backend = backend if reset else None
                continue
            self.stats.published += 1
            if self._on_publish is not None:
                with contextlib.suppress(Exception):
                    self._on_publish(item)
        if backend is not None:
            with contextlib.suppress(Exception):
                backend.close()
