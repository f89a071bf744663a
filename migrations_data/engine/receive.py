"""`sync <entity> receive`: the back direction of a two-way sync. A chassis event consumer (idempotent
per event id, retried with backoff, dead-lettered after CONSUMER_MAX_ATTEMPTS) runs inside the monolith
and applies a service's events to the monolith's tables, on the monolith's broker (BROKER_URL; unset: the
embedded profile's filesystem transport, the folder the services publish to)."""

from __future__ import annotations

import os
import threading
from dataclasses import asdict, dataclass

from chassis.broker import broker_connection
from chassis.consumers import ConsumerWorker, EventConsumer
from chassis.settings import EVENTS_EXCHANGE


@dataclass
class ReceiveResult:
    consumer: str
    processed: int = 0
    duplicate: int = 0
    retried: int = 0
    dead_lettered: int = 0
    ignored: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def run_receiver(
    consumer: EventConsumer,
    *,
    once: bool = False,
    max_messages: int | None = None,
    stop_event: threading.Event | None = None,
    exchange: str = EVENTS_EXCHANGE,
    broker_url: str | None = None,
    timeout: float | None = None,
) -> ReceiveResult:
    """Consume until `stop_event` is set (or, with `once`, until the queue stays empty for a second; a
    `once` run that cannot reach the broker for `timeout` seconds raises broker_unavailable, exit 2)."""
    from migrations_data.outbox.relay import broker_connection_args

    if max_messages is not None and max_messages < 1:
        raise ValueError("--max-messages must be at least 1")
    url, options = broker_connection_args(broker_url)
    with broker_connection(url, options) as connection:
        worker = ConsumerWorker(
            consumer,
            connection,
            exchange=exchange,
            max_attempts=int(os.environ.get("CONSUMER_MAX_ATTEMPTS") or 5),
            retry_base_ms=int(os.environ.get("CONSUMER_RETRY_BASE_MS") or 1000),
        )
        stop_event = stop_event or threading.Event()
        watcher = threading.Thread(target=lambda: (stop_event.wait(), worker.stop()), daemon=True)
        watcher.start()
        stats = worker.run(max_messages=max_messages, once=once, timeout=timeout if once else None)
        stop_event.set()
    return ReceiveResult(
        consumer.name, stats.processed, stats.duplicate, stats.retried, stats.dead_lettered, stats.ignored
    )
