"""The dead-letter console: list, show, replay and purge the messages in a consumer's `<consumer>.dlq`.

A dead letter is identified by its envelope id (`sha-<12 hex>` of the body for a message that is not an
envelope at all). RabbitMQ has no "browse": messages are fetched unacknowledged on a channel of their own,
and those not replayed or purged go back to the queue when that channel closes (in their order on RabbitMQ).

- replay: the message is published again to the consumer's own queue (default exchange, routing key =
  the consumer's name), with `x-attempts` reset to 1 and `x-replays` counted, so it takes the normal
  consumer path (idempotency, retries, DLQ again if it still fails). The dead-letter copy is acknowledged
  only after the broker confirmed the new one: a crash in between leaves a duplicate, never a loss (the
  consumer is idempotent).
- purge: the message is acknowledged and gone (a decision of an operator; `--dry-run` shows it first).
- `replay --all` / `purge --all` handle the messages present when they start, so a replayed message that
  fails again and comes back is not replayed twice in one run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kombu import Connection, Producer, Queue

from chassis.consumers import ATTEMPTS_HEADER, FIRST_FAILED_HEADER, LAST_FAILED_HEADER
from contracts import cli
from contracts.events import Envelope, InvalidEnvelope

DEFAULT_LIMIT = 1000


def not_found(message: str) -> cli.CheckFailed:
    """A named dead letter is not there: exit 1 (the console looked and found nothing to do)."""
    return cli.CheckFailed("dead_letter_not_found", message)


@dataclass(frozen=True)
class DeadLetter:
    id: str
    consumer: str
    event_type: str
    error: str
    attempts: int
    first_failed_at: str
    last_failed_at: str
    routing_key: str
    replays: int
    body: bytes = field(repr=False)
    headers: dict[str, Any] = field(repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "consumer": self.consumer,
            "event_type": self.event_type,
            "error": self.error,
            "attempts": self.attempts,
            "first_failed_at": self.first_failed_at,
            "last_failed_at": self.last_failed_at,
            "routing_key": self.routing_key,
            "replays": self.replays,
        }

    def detail(self) -> dict[str, Any]:
        try:
            envelope: Any = Envelope.from_json(self.body).to_dict()
        except InvalidEnvelope:
            envelope = self.body.decode("utf-8", "replace")
        return {**self.summary(), "headers": _jsonable(self.headers), "envelope": envelope}


@dataclass
class DlqResult:
    """What a console action found and did, per consumer."""

    action: str
    dry_run: bool = False
    letters: list[DeadLetter] = field(default_factory=list)
    done: list[str] = field(default_factory=list)  # ids replayed or purged (would be, with dry_run)
    counts: dict[str, int] = field(default_factory=dict)  # consumer -> messages in its DLQ

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "counts": self.counts,
            "done": self.done,
            "dead_letters": [letter.summary() for letter in self.letters],
        }


def dead_letter_from(consumer: str, body: bytes, headers: dict[str, Any] | None) -> DeadLetter:
    headers = dict(headers or {})
    try:
        envelope = Envelope.from_json(body)
        ident, event_type = envelope.id, envelope.type
    except InvalidEnvelope:
        ident, event_type = f"sha-{hashlib.sha256(body).hexdigest()[:12]}", "(malformed)"
    return DeadLetter(
        id=ident,
        consumer=consumer,
        event_type=event_type,
        error=str(headers.get("x-error") or headers.get("x-last-error") or ""),
        attempts=_int(headers.get(ATTEMPTS_HEADER)),
        first_failed_at=str(headers.get(FIRST_FAILED_HEADER, "")),
        last_failed_at=str(headers.get(LAST_FAILED_HEADER, "")),
        routing_key=str(headers.get("x-original-routing-key", "")),
        replays=_int(headers.get("x-replays"), default=0),
        body=body,
        headers=headers,
    )


class DeadLetterConsole:
    """The console's actions over the DLQs of `consumers` (names) on one broker connection."""

    def __init__(self, connection: Connection, consumers: Iterable[str]):
        self.connection = connection
        self.consumers = list(consumers)

    def _select(self, consumer: str | None) -> list[str]:
        if consumer is None:
            return self.consumers
        if consumer not in self.consumers:
            known = ", ".join(self.consumers) or "none"
            raise cli.UsageError(f"no consumer named {consumer!r} (known: {known})", code="unknown_consumer")
        return [consumer]

    @contextmanager
    def _fetched(self, consumer: str, limit: int) -> Iterator[list[tuple[Any, DeadLetter]]]:
        """Up to `limit` messages of the DLQ, unacknowledged; what the caller does not ack goes back."""
        channel = self.connection.channel()
        try:
            queue = Queue(f"{consumer}.dlq", durable=True)(channel)
            _, present, _ = _declare(queue)
            fetched = []
            while len(fetched) < min(limit, present) and (message := queue.get(no_ack=False)) is not None:
                fetched.append((message, dead_letter_from(consumer, _body(message), message.headers)))
            yield fetched
        finally:
            channel.close()  # every message neither acked nor rejected returns to the queue

    def list(self, consumer: str | None = None, *, limit: int = DEFAULT_LIMIT) -> DlqResult:
        result = DlqResult("list")
        for name in self._select(consumer):
            with self._fetched(name, limit) as fetched:
                result.counts[name] = len(fetched)
                result.letters += [letter for _, letter in fetched]
        return result

    def show(self, ident: str, consumer: str | None = None) -> DlqResult:
        result = self.list(consumer)
        result.action, result.letters = "show", [letter for letter in result.letters if letter.id == ident]
        if not result.letters:
            where = ", ".join(self._select(consumer))
            raise not_found(f"no dead letter {ident!r} in the DLQ of {where}")
        return result

    def replay(self, ids: Iterable[str] = (), *, consumer: str | None = None, all_: bool = False,
               dry_run: bool = False) -> DlqResult:  # fmt: skip
        return self._apply("replay", set(ids), consumer=consumer, all_=all_, dry_run=dry_run)

    def purge(self, ids: Iterable[str] = (), *, consumer: str | None = None, all_: bool = False,
              dry_run: bool = False) -> DlqResult:  # fmt: skip
        return self._apply("purge", set(ids), consumer=consumer, all_=all_, dry_run=dry_run)

    def _apply(self, action: str, ids: set[str], *, consumer, all_: bool, dry_run: bool) -> DlqResult:
        if all_ and consumer is None:
            raise cli.UsageError(f"{action} --all needs --consumer")
        if not all_ and not ids:
            raise cli.UsageError(f"{action} needs dead-letter ids or --all")
        if all_ and ids:
            raise cli.UsageError(f"{action}: give ids or --all, not both")
        result = DlqResult(action, dry_run=dry_run)
        found: set[str] = set()
        for name in self._select(consumer):
            with self._fetched(name, limit=10**9) as fetched:
                result.counts[name] = len(fetched)
                producer = Producer(self.connection.channel()) if action == "replay" and not dry_run else None
                for message, letter in fetched:
                    if not (all_ or letter.id in ids):
                        continue
                    found.add(letter.id)
                    result.letters.append(letter)
                    result.done.append(letter.id)
                    if dry_run:
                        continue
                    if producer is not None:
                        _republish(producer, message, letter)
                    message.ack()
                if producer is not None:
                    producer.channel.close()
        missing = sorted(ids - found)
        if missing:
            past = {"replay": "replayed", "purge": "purged"}[action]
            done = "nothing changed" if dry_run or not found else f"{len(found)} other(s) {past}"
            raise not_found(f"no dead letter {', '.join(missing)} ({done})")
        return result


def _declare(queue: Queue) -> tuple[str, int, int]:
    """Declare the DLQ as the consumer does (a no-op when it exists): (name, messages, consumers)."""
    declared = queue.queue_declare()
    if declared is None:  # some virtual transports answer nothing; count by fetching then
        return queue.name, 10**9, 0
    return declared.queue, declared.message_count, declared.consumer_count


def _republish(producer: Producer, message, letter: DeadLetter) -> None:
    """Back to the consumer's queue through the default exchange; confirmed on amqp before returning."""
    headers = {k: v for k, v in letter.headers.items() if k not in ("x-death", "x-error", "x-last-error")}
    headers[ATTEMPTS_HEADER] = 1
    headers["x-replays"] = letter.replays + 1
    producer.publish(
        letter.body,
        exchange="",
        routing_key=letter.consumer,
        headers=headers,
        content_type=message.content_type or "application/json",
        content_encoding=message.content_encoding or "utf-8",
        delivery_mode=2,
        message_id=None if letter.id.startswith("sha-") else letter.id,
    )


def _body(message) -> bytes:
    body = message.body
    return body if isinstance(body, bytes) else str(body).encode()


def _int(value: Any, default: int = 1) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
