"""How shadow pairs travel from the gateway to the comparator: RabbitMQ (services profile) or a file queue
(embedded profile), chosen by URL.

- `amqp://...` (or `pyamqp://`): topic exchange `strangler.shadow` (durable), routing key
  `shadow.<route id>`, persistent messages, no publisher confirms (the gateway's hot path never waits for
  the broker); the comparator reads the durable queue `shadow.comparator` bound to `shadow.#`. The query
  parameters `shadow_exchange` and `shadow_queue` override both names (tests use unique ones).
- `file:///abs/dir` or `file:relative/dir`: append-only JSONL segments in that directory, one writer per
  segment (named after the writer's pid and start time, so several gateway workers never share a file),
  rotated at `segment_bytes`; a writer seals a segment it leaves (`<segment>.sealed`). One consumer (an
  exclusive lock file) keeps its read positions in `<name>.offsets.json`, replaced atomically; it only ever
  reads complete lines, so a writer that crashed mid-line leaves at most one torn line, which is skipped
  once the segment is sealed or its writer is gone. Fully read sealed segments are deleted.

Delivery is at least once: a consumer that stops between handling a pair and committing its position
(the file queue commits every `commit_every` pairs and when idle; AMQP acks each pair) sees it again, so
the comparator deduplicates by pair id.

`BackgroundPublisher` is what the gateway uses: `offer(pair)` never blocks and never raises; a bounded
in-memory queue is drained by one daemon thread; a full queue or a failed publish drops the pair and
counts it.

Why our own file queue rather than kombu's filesystem transport (which the embedded BROKER_URL uses for
events): measured with `make bench-shadow-queue` (bench/shadow_queue.py, 1,000 pairs of ~2 KB, medians
of 3 interleaved rounds, load average 12-18 on 2 cores): publishing 31,961 pairs/s against 260 (123x),
consuming 4,765 against 352 (13.5x), and with a backlog of 5,000 pairs 4,294 against 73 (59x: kombu lists
and sorts the whole folder for every message). 260 pairs/s is below what one gateway mirrors at c=16, so
pairs would be dropped. kombu also deletes a message's file when it hands it out, before the ack: a
comparator killed mid-pair loses it, where ours commits read positions after handling (at least once).

In parts: `addresses` (URLs and shared shapes), `file_queue`, `amqp`, `background` (the gateway's
non-blocking publisher); this module opens the backend a URL names and runs a consumer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from .addresses import (
    DEFAULT_PUBLISH_BUFFER,
    DEFAULT_SEGMENT_BYTES,
    EXCHANGE,
    QUEUE,
    REPO_DIR,
    ROUTING_PREFIX,
    SEALED_SUFFIX,
    SEGMENT_SUFFIX,
    Message,
    Publisher,
    QueueTarget,
    default_queue_dir,
    parse_queue_url,
    queue_url_from_env,
    routing_key,
)
from .amqp import AmqpPublisher, AmqpReader
from .background import BackgroundPublisher, PublisherStats
from .file_queue import FileQueueReader, FileQueueWriter


def open_publisher(url: str, **options) -> Publisher:
    target = parse_queue_url(url)
    if target.kind == "amqp":
        return AmqpPublisher(target)
    return FileQueueWriter(target.directory, **options)


def open_reader(url: str, **options) -> FileQueueReader | AmqpReader:
    target = parse_queue_url(url)
    if target.kind == "amqp":
        return AmqpReader(target, **{k: v for k, v in options.items() if k == "prefetch"})
    return FileQueueReader(target.directory, **{k: v for k, v in options.items() if k != "prefetch"})


def iter_messages(
    url: str, *, once: bool = True, idle_timeout: float = 1.0, poll_interval: float = 0.2, **options
) -> Iterator[Message]:
    """Messages from the queue at `url`. once=True: stop when nothing new arrives for `idle_timeout`
    seconds; else run until the caller stops iterating. Positions are committed when idle and on exit."""
    reader = open_reader(url, **options)
    try:
        idle_since = time.monotonic()
        while True:
            batch = reader.poll()
            if batch:
                yield from batch
                idle_since = time.monotonic()
                continue
            reader.commit()
            if once and time.monotonic() - idle_since >= idle_timeout:
                return
            time.sleep(poll_interval)
    finally:
        reader.close()


def consume(
    url: str, handler: Callable[[bytes], None], *, once: bool = True, idle_timeout: float = 1.0, **options
) -> int:
    """Hand every pair's raw bytes to `handler`, acknowledging each after it returns; returns how many were
    handled. A handler that raises stops consumption with the pair unacknowledged (seen again next time);
    malformed pairs are the handler's to dead-letter, not to raise."""
    handled = 0
    for message in iter_messages(url, once=once, idle_timeout=idle_timeout, **options):
        handler(message.body)
        message.ack()
        handled += 1
    return handled


__all__ = [
    "DEFAULT_PUBLISH_BUFFER",
    "DEFAULT_SEGMENT_BYTES",
    "EXCHANGE",
    "QUEUE",
    "REPO_DIR",
    "ROUTING_PREFIX",
    "SEALED_SUFFIX",
    "SEGMENT_SUFFIX",
    "AmqpPublisher",
    "AmqpReader",
    "BackgroundPublisher",
    "FileQueueReader",
    "FileQueueWriter",
    "Message",
    "Publisher",
    "PublisherStats",
    "QueueTarget",
    "consume",
    "default_queue_dir",
    "iter_messages",
    "open_publisher",
    "open_reader",
    "parse_queue_url",
    "queue_url_from_env",
    "routing_key",
]
