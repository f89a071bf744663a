"""Event consumers over kombu: bindings on strangler.events, a handler table, idempotency, retries, DLQ.

Topology of consumer `name` (durable queues):
- `name`, bound to the events exchange with each of the consumer's routing-key patterns;
- `name.retry.<n>` (amqp only): holds a message that failed attempt n for base * 2**(n-1) ms (message TTL),
  then dead-letters it through the default exchange back to `name`; the attempt number is the header
  `x-attempts`. On the filesystem transport there is no TTL: a retry goes straight back to `name`;
- `name.dlq`: messages that failed CONSUMER_MAX_ATTEMPTS times, and malformed envelopes at once
  (headers `x-error`, `x-attempts`, `x-original-routing-key`, `x-first-failed-at`, `x-last-failed-at`);
  `events dlq ...` (chassis/dlq.py) lists, shows, replays and purges them.
A message is acked only after its retry or dead-letter copy was published: nothing is dropped.

Trust (chassis/event_keys.py): every event's digest is checked when it is parsed, and with
EVENT_SIGNATURES=enforce a critical event's publisher and signature; an event that fails goes to the DLQ
at once with the reason (`digest mismatch: ...`, `untrusted event: unsigned: ...`), its handler never runs.
An event without any digest (a publisher not yet upgraded) is accepted unless EVENT_SIGNATURES=enforce.
A replay of a genuine event passes the check and is then refused by the processed-event ids.

A consumer with `batch_size` > 1 applies the messages at hand (up to that many, whatever arrived without
waiting) in one transaction: one commit for the batch instead of one per event, no savepoint per event (the
processed-event row is an INSERT ... ON CONFLICT DO NOTHING). It is optimistic: when any event of the batch
fails, or the transaction as a whole (its commit, a lost connection), nothing of the batch is kept and each
of its messages is handled again on its own, so a failing event is retried or dead-lettered alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from kombu import Connection, Consumer, Producer, Queue, binding
from kombu.exceptions import OperationalError

from chassis.broker import events_exchange
from chassis.event_keys import EventVerifier, KeysUnavailable
from chassis.logging import trace_id_var
from chassis.metrics import counter
from chassis.settings import EVENTS_EXCHANGE
from chassis.tracing import consumer_span, traceparent_var
from contracts.cli import EnvironmentUnusable
from contracts.event_trust import Refused
from contracts.events import Envelope, InvalidEnvelope

log = logging.getLogger(__name__)

EVENTS = counter(
    "consumer_events_total", "Messages handled by consumers, by outcome", ["consumer", "outcome"]
)
ATTEMPTS_HEADER = "x-attempts"
FIRST_FAILED_HEADER = "x-first-failed-at"
LAST_FAILED_HEADER = "x-last-failed-at"

Handler = Callable[[Envelope], None]
# How long a consumer with batch_size > 1 waits for one more message before applying what it holds.
BATCH_WAIT_SECONDS = 0.002


class EventConsumer:
    """Subclass with a `name`, routing-key `bindings` and a `handlers` table {event type: function}."""

    name: ClassVar[str]
    bindings: ClassVar[Sequence[str]]
    handlers: ClassVar[Mapping[str, Handler]]
    # > 1: apply up to this many messages at hand in one transaction (see the module docstring).
    batch_size: ClassVar[int] = 1


@dataclass
class ConsumeStats:
    processed: int = 0
    duplicate: int = 0
    retried: int = 0
    dead_lettered: int = 0
    ignored: int = 0

    @property
    def handled(self) -> int:
        return self.processed + self.duplicate + self.retried + self.dead_lettered + self.ignored


class ConsumerWorker:
    """Runs one EventConsumer on a broker connection (one thread)."""

    def __init__(
        self,
        consumer: EventConsumer,
        connection: Connection,
        *,
        exchange: str = EVENTS_EXCHANGE,
        max_attempts: int = 5,
        retry_base_ms: int = 1000,
        using: str = "default",
        record_processed: bool = True,
        verifier: EventVerifier | None = None,
    ):
        self.consumer = consumer
        self.connection = connection
        self.exchange = events_exchange(exchange)
        self.max_attempts = max_attempts
        self.retry_base_ms = retry_base_ms
        self.using = using
        # False: the handlers are idempotent by themselves (a version rule), no ProcessedEvent row is kept
        # (a database without the chassis' tables, e.g. the monolith's).
        self.record_processed = record_processed
        self.verifier = verifier or EventVerifier()
        self.delayed_retries = connection.transport.driver_type == "amqp"  # TTL + dead-lettering
        self.stats = ConsumeStats()
        self.batch_size = max(1, getattr(consumer, "batch_size", 1))
        self._buffer: list = []  # messages held for the next batch (batch_size > 1)
        self._max_messages: int | None = None
        self._producer: Producer | None = None
        self._stopping = threading.Event()

    @property
    def queue(self) -> Queue:
        bindings = [binding(self.exchange, routing_key=pattern) for pattern in self.consumer.bindings]
        return Queue(self.consumer.name, bindings=bindings, durable=True)

    @property
    def dlq(self) -> Queue:
        return Queue(f"{self.consumer.name}.dlq", durable=True)

    def retry_queues(self) -> list[Queue]:
        if not self.delayed_retries:
            return []
        return [
            Queue(
                f"{self.consumer.name}.retry.{n}",
                durable=True,
                queue_arguments={
                    "x-message-ttl": self.retry_base_ms * 2 ** (n - 1),
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.consumer.name,
                },
            )
            for n in range(1, self.max_attempts)
        ]

    def declare(self) -> None:
        channel = self.connection.default_channel
        self.exchange(channel).declare()
        for queue in (self.queue, self.dlq, *self.retry_queues()):
            queue(channel).declare()

    def run(
        self,
        *,
        max_messages: int | None = None,
        once: bool = False,
        idle_timeout: float = 1.0,
        timeout: float | None = None,
    ) -> ConsumeStats:
        """Consume until max_messages were handled, or (once) until the queue stays empty for idle_timeout.
        Broker errors are retried with backoff; after `timeout` seconds (a `--once` run) the last one is
        raised instead."""
        failures = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopping.is_set() and (max_messages is None or self.stats.handled < max_messages):
            try:
                self.connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
                self.declare()
                if self._drain(max_messages, once, idle_timeout):
                    break
            except (*self.connection.connection_errors, OperationalError, OSError) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2 ** (failures - 1))
                if deadline is not None and time.monotonic() + delay >= deadline:
                    self.connection.close()
                    raise EnvironmentUnusable(
                        "broker_unavailable",
                        f"consumer {self.consumer.name} gave up after {timeout:g} s: {exc!r} "
                        "(check BROKER_URL and that the broker is up)",
                    ) from exc
                log.warning(
                    "consumer %s: broker error %r; reconnecting in %.1f s", self.consumer.name, exc, delay
                )
                self._producer = None
                self._buffer.clear()  # unacked: the broker delivers them again
                self.connection.close()
                self._stopping.wait(delay)
        return self.stats

    def stop(self) -> None:
        """Finish the message in hand, then return from run() (within idle_timeout)."""
        self._stopping.set()

    def _drain(self, max_messages: int | None, once: bool, idle_timeout: float) -> bool:
        """Consume on the current connection; True when the run is over."""
        prefetch = max(10, 2 * self.batch_size)
        prefetch = min(prefetch, max_messages) if max_messages else prefetch
        self._max_messages = max_messages
        with Consumer(
            self.connection.channel(), queues=[self.queue], on_message=self.handle, prefetch_count=prefetch
        ):
            while not self._stopping.is_set() and (max_messages is None or self.stats.handled < max_messages):
                try:
                    self.connection.drain_events(timeout=BATCH_WAIT_SECONDS if self._buffer else idle_timeout)
                except TimeoutError:
                    if self._buffer:
                        self._flush()
                    elif once:
                        return True
            self._flush()
        return True

    def handle(self, message) -> None:
        """One delivery: handled at once, or held for the batch (batch_size > 1)."""
        if self.batch_size == 1:
            return self._handle_one(message)
        self._buffer.append(message)
        held = self.stats.handled + len(self._buffer)
        if len(self._buffer) >= self.batch_size or (
            self._max_messages is not None and held >= self._max_messages
        ):
            self._flush()
        return None

    def _handle_one(self, message) -> None:
        """One delivery: apply it once, or schedule a retry, or dead-letter it; then ack."""
        close_old_connections()  # a long-running consumer drops database connections that went stale
        attempt = _attempt_of(message)
        envelope, handler = self._trusted(message)
        if envelope is None:
            return None
        if handler is None:
            return self._done(message, "ignored")
        with self._event_scope(envelope) as scope:
            try:
                duplicate = self._apply(envelope, handler)
            except Exception as exc:  # the handler's effects were rolled back with its ProcessedEvent row
                scope["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        if scope["error"] is not None:
            return self._failed(message, envelope, attempt, scope["error"])
        return self._done(message, "duplicate" if duplicate else "processed")

    def _trusted(self, message) -> tuple[Envelope | None, Handler | None]:
        """The message's envelope and handler; (None, None) when it was dead-lettered as untrustworthy (a
        malformed envelope, a digest that does not match, a critical event unsigned, forged or from the
        wrong publisher), or scheduled for a retry (the publisher's keys out of reach). Only events this
        consumer handles are checked for a signature."""
        try:
            envelope = Envelope.from_json(message.body)
        except InvalidEnvelope as exc:
            self._dead_letter(message, f"{exc.kind}: {exc}", _attempt_of(message))
            self._done(message, "dead_lettered")
            return None, None
        handler = self.consumer.handlers.get(envelope.type)
        if handler is None:
            return envelope, None
        try:
            self.verifier.check(envelope)
        except Refused as exc:
            self._dead_letter(message, f"untrusted event: {exc}", _attempt_of(message))
            self._done(message, "dead_lettered")
            return None, None
        except KeysUnavailable as exc:  # the publisher's keys are out of reach: retried like a failure
            self._failed(message, envelope, _attempt_of(message), f"{type(exc).__name__}: {exc}")
            return None, None
        return envelope, handler

    def _flush(self) -> None:
        """Apply the held messages in one transaction (a savepoint per event), then ack each."""
        batch, self._buffer = self._buffer, []
        if not batch:
            return
        close_old_connections()
        ready = []
        for message in batch:
            envelope, handler = self._trusted(message)
            if envelope is None:
                continue
            if handler is None:
                self._done(message, "ignored")
                continue
            ready.append((message, envelope, handler))
        if not ready:
            return
        try:
            duplicates = self._apply_batch(ready)
        except Exception as exc:  # an event or the transaction: nothing of the batch was committed
            log.info(
                "consumer %s: a batch of %s failed (%r); one by one", self.consumer.name, len(ready), exc
            )
            for message, _, _ in ready:
                self._handle_one(message)
            return
        for (message, _, _), duplicate in zip(ready, duplicates, strict=True):
            self._done(message, "duplicate" if duplicate else "processed")

    def _apply_batch(self, ready: list) -> list[bool]:
        """Every event of the batch in one transaction; for each, True when it was processed already."""
        duplicates: list[bool] = []
        with transaction.atomic(using=self.using):
            for _, envelope, handler in ready:
                with self._event_scope(envelope) as scope:
                    try:
                        if self.record_processed and not self._record_processed(envelope):
                            duplicates.append(True)
                            continue
                        handler(envelope)
                        duplicates.append(False)
                    except Exception as exc:
                        scope["error"] = f"{type(exc).__name__}: {exc}"[:1000]
                        raise
        return duplicates

    def _record_processed(self, envelope: Envelope) -> bool:
        """Insert the event's ProcessedEvent row unless it is there (no savepoint); True when inserted."""
        from chassis.models import ProcessedEvent

        connection = connections[self.using]
        opts = ProcessedEvent._meta
        event_id = opts.get_field("event_id").get_db_prep_value(envelope.id, connection)
        at = opts.get_field("processed_at").get_db_prep_value(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(opts.db_table)} "  # noqa: S608 (our own names)
                "(consumer, event_id, event_type, processed_at) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING id",
                [self.consumer.name, event_id, envelope.type, at],
            )
            return cursor.fetchone() is not None

    @contextlib.contextmanager
    def _event_scope(self, envelope: Envelope):
        """The event's trace id and consumer span around its handling; the scope's "error" ends the span."""
        token = trace_id_var.set(envelope.trace_id)
        span = consumer_span(envelope.type, envelope.trace_id)
        parent_token = traceparent_var.set(span.traceparent if span else None)
        scope: dict[str, str | None] = {"error": None}
        try:
            yield scope
        finally:
            trace_id_var.reset(token)
            traceparent_var.reset(parent_token)
            if span is not None:
                span.end(error=scope["error"])

    def _failed(self, message, envelope: Envelope, attempt: int, error: str) -> None:
        log.warning(
            "consumer %s: %s %s attempt %s failed: %s",
            self.consumer.name,
            envelope.type,
            envelope.id,
            attempt,
            error,
        )
        if attempt >= self.max_attempts:
            self._dead_letter(message, error, attempt)
            return self._done(message, "dead_lettered")
        self._retry(message, attempt, error)
        return self._done(message, "retried")

    def _apply(self, envelope: Envelope, handler: Handler) -> bool:
        """Run the handler with the ProcessedEvent row in one transaction; True when already processed."""
        if not self.record_processed:
            with transaction.atomic(using=self.using):
                handler(envelope)
            return False
        with transaction.atomic(using=self.using):
            if not self._record_processed(envelope):  # INSERT ... ON CONFLICT: no savepoint round trips
                return True
            handler(envelope)
        return False

    def _retry(self, message, attempt: int, error: str) -> None:
        target = f"{self.consumer.name}.retry.{attempt}" if self.delayed_retries else self.consumer.name
        self._republish(message, target, {ATTEMPTS_HEADER: attempt + 1, "x-last-error": error})

    def _dead_letter(self, message, error: str, attempt: int) -> None:
        log.error("consumer %s: dead-lettering after %s attempt(s): %s", self.consumer.name, attempt, error)
        self._republish(message, self.dlq.name, {ATTEMPTS_HEADER: attempt, "x-error": error})

    def _republish(self, message, queue_name: str, extra_headers: dict) -> None:
        headers = {k: v for k, v in (message.headers or {}).items() if k != "x-death"}
        headers.setdefault("x-original-routing-key", message.delivery_info.get("routing_key", ""))
        failed_at = datetime.now(UTC).isoformat()  # the DLQ console shows the first and the last failure
        headers.setdefault(FIRST_FAILED_HEADER, failed_at)
        headers[LAST_FAILED_HEADER] = failed_at
        headers.update(extra_headers)
        if self._producer is None:
            self._producer = Producer(self.connection.channel())
        self._producer.publish(
            message.body,
            exchange="",
            routing_key=queue_name,
            headers=headers,
            content_type=message.content_type or "application/json",
            content_encoding=message.content_encoding or "utf-8",
            delivery_mode=2,
        )

    def _done(self, message, outcome: str) -> None:
        message.ack()
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        EVENTS.labels(self.consumer.name, outcome).inc()


def _attempt_of(message) -> int:
    """This delivery's attempt number (header x-attempts; 1 when absent or not a positive integer)."""
    try:
        return max(1, int((message.headers or {}).get(ATTEMPTS_HEADER, 1)))
    except (TypeError, ValueError):
        return 1


def consumer_classes() -> list[type[EventConsumer]]:
    """The classes named in settings.CONSUMERS."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    return [import_string(path) for path in settings.CONSUMERS]


def consumer_named(name: str) -> type[EventConsumer]:
    for cls in consumer_classes():
        if cls.name == name:
            return cls
    known = ", ".join(cls.name for cls in consumer_classes()) or "none"
    raise LookupError(f"no consumer named {name!r} in settings.CONSUMERS (known: {known})")
