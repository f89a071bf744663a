"""Where shadow pairs go: the queue URL (SHADOW_QUEUE_URL, else an AMQP BROKER_URL, else the file queue
under var/), its parsed form, and the two shapes every backend shares (a Publisher, a delivered Message)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shadow.pairs import ShadowPair

EXCHANGE = "strangler.shadow"
QUEUE = "shadow.comparator"
ROUTING_PREFIX = "shadow."
REPO_DIR = Path(__file__).resolve().parents[2]
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


class Publisher(Protocol):
    """Sends one pair; may block and may raise (BackgroundPublisher calls it from its thread)."""

    def publish(self, pair: ShadowPair) -> None: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class Message:
    """One delivered pair, as raw bytes (ShadowPair.from_json is the consumer's job, with its DLQ).
    Call `ack()` once it is handled."""

    body: bytes
    _ack: Callable[[], None] = field(repr=False)
    source: str = ""

    def ack(self) -> None:
        self._ack()
