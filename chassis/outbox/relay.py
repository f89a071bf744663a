"""The generic outbox relay: claim pending rows, publish each with confirms, mark them; nothing is lost.

No Django model is imported here, so any outbox can plug in. A source implements `OutboxSource`:

- `atomic()`: a context manager (a DB transaction); claim, publish and mark run inside it, so the row locks
  taken by `claim` hold until the marks commit.
- `claim(batch_size) -> list[PendingEvent]`: the oldest pending rows, in order, locked with
  `SELECT ... FOR UPDATE SKIP LOCKED` so several relays share the work without sending a row twice.
- `mark_sent(ids)`: those rows are confirmed by the broker (set sent_at).
- `mark_failed(ids, error)`: publishing failed; count the attempt, keep the error, leave them pending.

A `signer` (chassis.event_keys.EventSigner) turns each envelope into what is published: the critical ones
signed with the publishing service's key, right before they leave.

A `wakeup` (chassis.pg_listen.PgListener on the outbox's NOTIFY channel, PostgreSQL) replaces the idle
poll: an empty outbox is claimed again as soon as a row is committed, and at the latest after
`wakeup_seconds` (a notification lost with its connection); without one, every `idle_seconds`. With it, a
batch smaller than `batch_size` (every pending row) is followed by that wait too, not by an empty claim.

A publisher is anything with `publish(envelope, routing_key=None)` that returns once the broker confirmed
and raises otherwise (chassis.broker.Publisher). Rows stay pending until confirmed, so a crash
between publish and commit re-sends them (at-least-once; consumers are idempotent).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from chassis.metrics import counter
from contracts.events import Envelope
from kernel.retry import backoff_delay

log = logging.getLogger(__name__)

PUBLISHED = counter("outbox_relay_published_total", "Outbox events confirmed by the broker", ["relay"])
FAILURES = counter("outbox_relay_failures_total", "Outbox publish failures (rows left pending)", ["relay"])


@dataclass(frozen=True)
class PendingEvent:
    id: int
    envelope: Envelope
    routing_key: str | None = None  # None: the event type


class OutboxSource(Protocol):
    def atomic(self) -> AbstractContextManager: ...
    def claim(self, batch_size: int) -> list[PendingEvent]: ...
    def mark_sent(self, ids: Sequence[int]) -> None: ...
    def mark_failed(self, ids: Sequence[int], error: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, envelope: Envelope, routing_key: str | None = None) -> None: ...


@dataclass
class RelayStats:
    batches: int = 0
    sent: int = 0
    failures: int = 0
    last_error: str = ""
    errors: list[str] = field(default_factory=list)
    timed_out: bool = False  # run(timeout=...) gave up with rows still pending


class OutboxRelay:
    """One loop: claim a batch, publish in order, mark; back off exponentially while the broker fails."""

    def __init__(
        self,
        source: OutboxSource,
        publisher: EventPublisher,
        *,
        name: str = "outbox",
        batch_size: int = 100,
        idle_seconds: float = 0.5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        sleep: Callable[[float], object] | None = None,
        signer: Callable[[Envelope], Envelope] | None = None,
        wakeup=None,
        wakeup_seconds: float = 1.0,
    ):
        self.source = source
        self.publisher = publisher
        self.name = name
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stop_event = threading.Event()
        self._sleep = sleep or self.stop_event.wait
        self.stats = RelayStats()
        self.signer = signer
        self.wakeup = wakeup
        self.wakeup_seconds = wakeup_seconds
        self._consecutive_failures = 0

    def run_once(self) -> tuple[int, bool]:
        """One batch: (rows confirmed, whether a publish failed); stops at the first failure (keeps order)."""
        with self.source.atomic():
            pending = self.source.claim(self.batch_size)
            sent: list[int] = []
            failed = False
            for event in pending:
                try:
                    envelope = self.signer(event.envelope) if self.signer else event.envelope
                    self.publisher.publish(envelope, event.routing_key)
                except Exception as exc:  # the publisher already retried; the row stays pending
                    error = f"{type(exc).__name__}: {exc}"[:2000]
                    log.warning("outbox %s: event %s not published: %s", self.name, event.envelope.id, error)
                    self.source.mark_failed([event.id], error)
                    self.stats.failures += 1
                    self.stats.last_error = error
                    FAILURES.labels(self.name).inc()
                    failed = True
                    break
                sent.append(event.id)
            if sent:
                self.source.mark_sent(sent)
        self.stats.batches += 1
        self.stats.sent += len(sent)
        PUBLISHED.labels(self.name).inc(len(sent))
        return len(sent), failed

    def run(
        self, *, max_batches: int | None = None, until_empty: bool = False, timeout: float | None = None
    ) -> RelayStats:
        """Loop until stop() (or max_batches, or an empty outbox with until_empty). `timeout` seconds bound
        the run: when they pass (e.g. the broker is down during a `--once`), it returns with
        `stats.timed_out` set."""
        batches = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.stop_event.is_set() and (max_batches is None or batches < max_batches):
            if deadline is not None and time.monotonic() >= deadline:
                self.stats.timed_out = True
                break
            batches += 1
            try:
                sent, failed = self.run_once()
            except Exception as exc:  # e.g. the database went away: keep going with backoff
                log.exception("outbox %s: batch failed", self.name)
                sent, failed = 0, True
                self.stats.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if failed:
                self._consecutive_failures += 1
                failures = self._consecutive_failures
                delay = backoff_delay(failures, base=self.backoff_base, cap=self.backoff_max)
                if deadline is not None:
                    delay = max(0.0, min(delay, deadline - time.monotonic()))
                self._sleep(delay)
                continue
            self._consecutive_failures = 0
            if sent == 0:
                if until_empty:
                    break
                self._idle()
            elif sent < self.batch_size and self.wakeup is not None and self.wakeup.listening:
                # the claim took every pending row: the next one announces itself (no empty claim)
                self._idle()
        return self.stats

    def _idle(self) -> None:
        """Wait for a committed row (NOTIFY), for at most wakeup_seconds; without LISTEN, idle_seconds."""
        if self.wakeup is not None and self.wakeup.wait(self.wakeup_seconds) is not None:
            return
        self._sleep(self.idle_seconds)

    def stop(self) -> None:
        self.stop_event.set()
        if self.wakeup is not None:
            self.wakeup.interrupt()
