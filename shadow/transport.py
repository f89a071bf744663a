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
"""

from __future__ import annotations

import collections
import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from shadow.pairs import ShadowPair

logger = logging.getLogger(__name__)

EXCHANGE = "strangler.shadow"
QUEUE = "shadow.comparator"
ROUTING_PREFIX = "shadow."
REPO_DIR = Path(__file__).resolve().parent.parent
SEGMENT_SUFFIX = ".jsonl"
SEALED_SUFFIX = ".sealed"
DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
DEFAULT_PUBLISH_BUFFER = 10_000


def default_queue_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    var = Path(env.get("STRANGLER_VAR_DIR") or REPO_DIR / "var")
    return var / "shadow" / "queue"


def queue_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """SHADOW_QUEUE_URL; else BROKER_URL when it is an AMQP broker (services profile); else the file queue
    under <STRANGLER_VAR_DIR or var>/shadow/queue (embedded profile)."""
    env = os.environ if env is None else env
    explicit = env.get("SHADOW_QUEUE_URL", "").strip()
    if explicit:
        return explicit
    broker = env.get("BROKER_URL", "").strip()
    if broker.split("://", 1)[0] in ("amqp", "pyamqp", "amqps"):
        return broker
    return f"file://{default_queue_dir(env)}"


def routing_key(route: str) -> str:
    return ROUTING_PREFIX + route


@dataclass(frozen=True, slots=True)
class QueueTarget:
    """A parsed queue URL: `kind` "amqp" (broker URL without our parameters, exchange, queue) or "file"."""

    kind: str
    url: str
    directory: Path | None = None
    exchange: str = EXCHANGE
    queue: str = QUEUE


def parse_queue_url(url: str) -> QueueTarget:
    """ValueError for anything but amqp(s)/pyamqp or file URLs."""
    parts = urlsplit(url)
    if parts.scheme in ("amqp", "pyamqp", "amqps"):
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        exchange = params.pop("shadow_exchange", EXCHANGE) or EXCHANGE
        queue_name = params.pop("shadow_queue", QUEUE) or QUEUE
        broker = urlunsplit(parts._replace(query=urlencode(params)))
        return QueueTarget("amqp", broker, exchange=exchange, queue=queue_name)
    if parts.scheme == "file":
        path = (parts.netloc + parts.path) if not parts.path.startswith("/") else parts.path
        if parts.netloc and parts.path.startswith("/"):
            path = parts.netloc + parts.path  # file://relative/dir
        if not path:
            raise ValueError(f"shadow queue URL {url!r} names no directory")
        directory = Path(path)
        return QueueTarget("file", url, directory=directory if directory.is_absolute() else REPO_DIR / path)
    raise ValueError(f"shadow queue URL {url!r}: use amqp://... or file:///dir")


# --- publishing --------------------------------------------------------------------------------------------


class Publisher(Protocol):
    """Sends one pair; may block and may raise (BackgroundPublisher calls it from its thread)."""

    def publish(self, pair: ShadowPair) -> None: ...

    def close(self) -> None: ...


class FileQueueWriter:
    """Appends pairs to this writer's own segment (one os.write of a whole line per pair, O_APPEND)."""

    def __init__(self, directory: Path, *, segment_bytes: int = DEFAULT_SEGMENT_BYTES, fsync: bool = False):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.writer_id = f"{os.getpid()}-{time.time_ns()}"
        self._sequence = 0
        self._fd: int | None = None
        self._size = 0
        self._path: Path | None = None

    def publish(self, pair: ShadowPair) -> None:
        self.append(pair.to_json())

    def append(self, record: bytes) -> None:
        if self._fd is None or self._size >= self.segment_bytes:
            self._rotate()
        line = record + b"\n"
        written = os.write(self._fd, line)
        if written != len(line):  # a short write (disk full): seal here so the torn line is skipped
            self._seal()
            raise OSError(errno.ENOSPC, "short write to the shadow queue segment")
        self._size += written
        if self.fsync:
            os.fsync(self._fd)

    def _rotate(self) -> None:
        self._seal()
        self._sequence += 1
        self._path = self.directory / f"{self.writer_id}-{self._sequence:06d}{SEGMENT_SUFFIX}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = 0

    def _seal(self) -> None:
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._path.with_name(self._path.name + SEALED_SUFFIX).touch()

    def close(self) -> None:
        self._seal()


class AmqpPublisher:
    """Publishes to the topic exchange with kombu: persistent messages, no confirms. A broker that is slow
    to answer or briefly away (a restart) is retried for a few seconds (kombu's retry policy): this runs in
    the BackgroundPublisher's thread, so only that thread waits."""

    RETRY_POLICY = {"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}

    def __init__(self, target: QueueTarget, *, connect_timeout: float = 5.0) -> None:
        from kombu import Connection, Exchange

        self.target = target
        self.exchange = Exchange(target.exchange, type="topic", durable=True)
        self._connection = Connection(target.url, connect_timeout=connect_timeout)
        self._producer = None

    def publish(self, pair: ShadowPair) -> None:
        if self._producer is None:
            self._connection.ensure_connection(**self.RETRY_POLICY)
            self._producer = self._connection.Producer(exchange=self.exchange)
        self._producer.publish(
            pair.to_json(),
            routing_key=routing_key(pair.route),
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            headers={"trace_id": pair.trace_id, "pair_id": pair.id},
            declare=[self.exchange],
            retry=True,
            retry_policy=self.RETRY_POLICY,
        )

    def reset(self) -> None:
        self._producer = None
        with contextlib.suppress(Exception):
            self._connection.close()
        self._connection = self._connection.clone()

    def close(self) -> None:
        self._producer = None
        with contextlib.suppress(Exception):
            self._connection.release()


def open_publisher(url: str, **options) -> Publisher:
    target = parse_queue_url(url)
    if target.kind == "amqp":
        return AmqpPublisher(target)
    return FileQueueWriter(target.directory, **options)


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


# --- consuming ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Message:
    """One delivered pair, as raw bytes (ShadowPair.from_json is the consumer's job, with its DLQ).
    Call `ack()` once it is handled."""

    body: bytes
    _ack: Callable[[], None] = field(repr=False)
    source: str = ""

    def ack(self) -> None:
        self._ack()


class FileQueueReader:
    """The one consumer of a file queue directory (an exclusive flock on `<name>.lock`)."""

    def __init__(self, directory: Path, *, name: str = "comparator", commit_every: int = 100) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.commit_every = commit_every
        self._offsets_path = self.directory / f"{name}.offsets.json"
        self._lock = open(self.directory / f"{name}.lock", "a+b")  # noqa: SIM115 -- held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise RuntimeError(f"another consumer {name!r} is reading {self.directory}") from None
        self.offsets: dict[str, int] = self._read_offsets()
        self._acked: dict[str, int] = dict(self.offsets)
        self._since_commit = 0
        self._torn: dict[str, tuple[int, int]] = {}  # segment -> (start, end) of its skipped torn line
        self.torn_lines = 0

    def _read_offsets(self) -> dict[str, int]:
        try:
            data = orjson.loads(self._offsets_path.read_bytes())
        except FileNotFoundError:
            return {}
        except orjson.JSONDecodeError:
            logger.error(
                "shadow queue offsets %s are unreadable; starting from the beginning", self._offsets_path
            )
            return {}
        return {k: v for k, v in data.items() if isinstance(k, str) and type(v) is int and v >= 0}

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"*{SEGMENT_SUFFIX}"))

    def poll(self, max_messages: int = 1000) -> list[Message]:
        """Complete lines not handed out yet, up to `max_messages`, oldest segment first."""
        messages: list[Message] = []
        for segment in self.segments():
            if len(messages) >= max_messages:
                break
            messages.extend(self._read_segment(segment, max_messages - len(messages)))
        return messages

    def _read_segment(self, segment: Path, limit: int) -> list[Message]:
        name = segment.name
        position = self.offsets.get(name, 0)
        messages: list[Message] = []
        try:
            handle = open(segment, "rb")  # noqa: SIM115 -- closed below
        except FileNotFoundError:
            return []
        with handle:
            handle.seek(position)
            while len(messages) < limit:
                line = handle.readline()
                if not line.endswith(b"\n"):  # end of the segment, or a line still being written
                    break
                position += len(line)
                if line.strip():
                    messages.append(Message(line[:-1], self._acker(name, position), source=name))
            at_end = not messages or len(messages) < limit
            size = os.fstat(handle.fileno()).st_size
        self.offsets[name] = position
        if at_end and size > position and self._finished(segment):
            # A torn last line: its writer crashed mid-write or stopped after a short write.
            self.torn_lines += 1
            logger.warning("shadow queue %s: skipping a torn last line of %d bytes", name, size - position)
            self.offsets[name] = size
            self._torn[name] = (position, size)
            self._advance(name, self._acked.get(name, 0))
        return messages

    def _advance(self, name: str, position: int) -> None:
        """Acknowledged up to `position`; a torn line right after it counts as done too."""
        torn = self._torn.get(name)
        if torn is not None and position >= torn[0]:
            position = max(position, torn[1])
        if position > self._acked.get(name, 0):
            self._acked[name] = position

    def _acker(self, name: str, position: int) -> Callable[[], None]:
        def ack() -> None:
            self._advance(name, position)
            self._since_commit += 1
            if self._since_commit >= self.commit_every:
                self.commit()

        return ack

    def _finished(self, segment: Path) -> bool:
        """Sealed by its writer, or its writer process is gone."""
        if segment.with_name(segment.name + SEALED_SUFFIX).exists():
            return True
        pid = segment.name.split("-", 1)[0]
        if not pid.isdigit():
            return True
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def commit(self) -> None:
        """Write the acknowledged positions (atomic replace); delete sealed segments read to the end."""
        self._since_commit = 0
        for segment in self.segments():
            name = segment.name
            done = self._acked.get(name, 0)
            if done and self._finished(segment) and done >= segment.stat().st_size:
                segment.unlink(missing_ok=True)
                segment.with_name(name + SEALED_SUFFIX).unlink(missing_ok=True)
                self._acked.pop(name, None)
                self.offsets.pop(name, None)
        live = {name: position for name, position in self._acked.items() if (self.directory / name).exists()}
        temporary = self._offsets_path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(orjson.dumps(live))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self._offsets_path)

    def rewind(self) -> None:
        """Forget positions handed out but not acknowledged (after a handler failed)."""
        self.offsets = dict(self._acked)

    def close(self) -> None:
        if self._lock.closed:
            return
        self.commit()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


class AmqpReader:
    """Reads the durable comparator queue (declared and bound to `shadow.#` on open)."""

    def __init__(self, target: QueueTarget, *, prefetch: int = 200) -> None:
        from kombu import Connection, Exchange, Queue

        self.target = target
        self.exchange = Exchange(target.exchange, type="topic", durable=True)
        self.queue = Queue(target.queue, self.exchange, routing_key=ROUTING_PREFIX + "#", durable=True)
        self._connection = Connection(target.url, connect_timeout=5)
        self._connection.ensure_connection(max_retries=3)
        self._channel = self._connection.channel()
        self.queue(self._channel).declare()
        self._channel.basic_qos(0, prefetch, False)

    def poll(self, max_messages: int = 1000) -> list[Message]:
        messages: list[Message] = []
        bound = self.queue(self._channel)
        while len(messages) < max_messages:
            message = bound.get(no_ack=False, accept=["application/json"])
            if message is None:
                break
            body = message.body
            body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            messages.append(Message(body, message.ack, source=self.target.queue))
        return messages

    def rewind(self) -> None:
        """Unacknowledged messages go back to the queue."""
        with contextlib.suppress(Exception):
            self._channel.basic_recover(requeue=True)

    def commit(self) -> None:
        return None

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._channel.close()
        with contextlib.suppress(Exception):
            self._connection.release()


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
