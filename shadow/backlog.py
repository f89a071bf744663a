"""How many shadow pairs wait in the queue for the comparator (for `shadow status`)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import orjson

from shadow.transport import SEGMENT_SUFFIX, parse_queue_url

COMPARATOR_NAME = "comparator"  # the file queue consumer name the worker reads with (transport's default)


@dataclass(frozen=True, slots=True)
class Backlog:
    pairs: int | None  # None: unknown (see `error`)
    location: str
    error: str | None = None

    def to_dict(self) -> dict:
        return {"pairs": self.pairs, "location": self.location, "error": self.error}


def queue_backlog(url: str) -> Backlog:
    """Pairs not yet acknowledged by the comparator; never raises (an unreachable broker gives `error`)."""
    try:
        target = parse_queue_url(url)
    except ValueError as exc:
        return Backlog(None, url, str(exc))
    if target.kind == "file":
        return Backlog(_file_backlog(target.directory), str(target.directory))
    try:
        return Backlog(_amqp_backlog(target), f"{target.exchange} -> {target.queue}")
    except Exception as exc:
        return Backlog(None, target.queue, f"broker unreachable: {exc}")


def _file_backlog(directory: Path) -> int:
    """Complete lines after the comparator's committed offset, over every segment."""
    offsets: dict[str, int] = {}
    with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError):
        offsets = orjson.loads((directory / f"{COMPARATOR_NAME}.offsets.json").read_bytes())
    waiting = 0
    for segment in sorted(directory.glob(f"*{SEGMENT_SUFFIX}")):
        try:
            with open(segment, "rb") as handle:
                handle.seek(int(offsets.get(segment.name, 0)))
                waiting += sum(1 for line in handle if line.endswith(b"\n") and line.strip())
        except FileNotFoundError:  # consumed and deleted meanwhile
            continue
    return waiting


def _amqp_backlog(target) -> int:
    from kombu import Connection

    from kernel.mtls import amqp_ssl

    with Connection(target.url, connect_timeout=2, ssl=amqp_ssl(target.url)) as connection:
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        try:
            _, count, _ = channel.queue_declare(queue=target.queue, passive=True)
        finally:
            channel.close()
    return count
