"""`shadow worker`: consume shadow pairs from the queue, compare them, store the results.

Pairs are handled in batches: compared, stored in one transaction, then acknowledged, so a worker that
dies mid-batch sees the batch again and the store (idempotent on the pair id) records each pair once.
A message that is not a pair, or that the comparator cannot handle, goes to the dead letters (the
`DeadLetter` table of the shadow database) and is acknowledged: it never blocks the queue."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connections
from kombu.exceptions import KombuError

from contracts.cli import redact_url
from shadow import metrics
from shadow.comparator import Comparator
from shadow.errors import ShadowError
from shadow.pairs import MalformedPair, ShadowPair
from shadow.routers import DATABASE
from shadow.rules import Rules
from shadow.store import dead_letter_record, results_record
from shadow.transport import open_reader

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 200
MAX_PAIR_ID, MAX_ROUTE = 64, 100  # PairResult.pair_id, PairResult.route


@dataclass
class WorkerResult:
    received: int = 0
    recorded: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    matched: int = 0
    mismatched: int = 0
    skipped: int = 0  # not comparable: legacy gave no answer, or the gateway shed the copy
    elapsed_s: float = 0.0
    routes: Counter = field(default_factory=Counter)

    @property
    def pairs_per_second(self) -> float:
        return self.received / self.elapsed_s if self.elapsed_s else 0.0

    def to_dict(self) -> dict:
        return {
            "received": self.received,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "dead_letters": self.dead_letters,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 3),
            "pairs_per_second": round(self.pairs_per_second, 1),
            "routes": dict(self.routes),
        }


def run_worker(
    *,
    queue_url: str,
    rules: Rules,
    once: bool = False,
    timeout: float | None = None,
    max_pairs: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    idle_timeout: float = 1.0,
    poll_interval: float = 0.2,
    stop_event: threading.Event | None = None,
    on_batch: Callable[[WorkerResult], None] | None = None,
) -> WorkerResult:
    """Run until the queue stays empty for `idle_timeout` seconds (once), `max_pairs` messages were
    handled, or `stop_event` is set. `timeout` seconds bound the whole run: past them, ShadowError
    `timed_out` (what was stored stays stored)."""
    if max_pairs is not None and max_pairs < 1:
        raise ShadowError("bad_argument", "--max-pairs must be at least 1")
    comparator = Comparator(rules)
    result = WorkerResult()
    started = time.monotonic()
    try:
        reader = open_reader(queue_url)
    except (RuntimeError, ValueError, OSError, KombuError) as exc:
        raise ShadowError(
            "queue_unavailable", f"cannot read the shadow queue {redact_url(queue_url)}: {exc}"
        ) from exc
    try:
        idle_since = time.monotonic()
        while not (stop_event and stop_event.is_set()):
            if timeout is not None and time.monotonic() - started >= timeout:
                raise ShadowError(
                    "timed_out",
                    f"--once gave up after {timeout:g} s with pairs still arriving ({result.received} "
                    "handled and stored); run it again or raise --timeout",
                )
            wanted = batch_size if max_pairs is None else min(batch_size, max_pairs - result.received)
            if wanted <= 0:
                break
            messages = reader.poll(wanted)
            if not messages:
                reader.commit()
                if once and time.monotonic() - idle_since >= idle_timeout:
                    break
                time.sleep(poll_interval)
                continue
            idle_since = time.monotonic()
            _drop_broken_connection()
            _handle_batch(comparator, reader, messages, result)
            result.elapsed_s = time.monotonic() - started
            if on_batch is not None:
                on_batch(result)
    finally:
        reader.close()
        result.elapsed_s = time.monotonic() - started
    return result


def _handle_batch(comparator: Comparator, reader, messages, result: WorkerResult) -> None:
    compared = []
    dead: list[tuple] = []
    for message in messages:
        result.received += 1
        try:
            pair = ShadowPair.from_json(message.body)
            _check_fits(pair)
            outcome = comparator.compare(pair)
        except MalformedPair as exc:
            dead.append((message, f"malformed pair: {exc}"))
            continue
        except Exception as exc:  # a pair the comparator cannot handle must not block the queue
            logger.exception("shadow pair could not be compared")
            dead.append((message, f"compare failed: {exc!r}"))
            continue
        compared.append((pair, outcome))
    try:
        stored = results_record(items=compared)
        for message, error in dead:
            dead_letter_record(raw=message.body, error=error, source=message.source)
    except Exception as exc:
        reader.rewind()
        raise ShadowError("store_failed", f"cannot store shadow results: {exc}") from exc
    result.dead_letters += len(dead)
    result.recorded += stored.recorded
    result.duplicates += stored.duplicates
    counted: set[str] = set()
    for pair, outcome in compared:
        if pair.id in stored.fresh_ids and pair.id not in counted:
            counted.add(pair.id)
            metrics.declare_route(pair.route)
            metrics.count_stored(outcome)
    for pair, outcome in compared:
        result.routes[pair.route] += 1
        if outcome.skipped:
            result.skipped += 1
        elif outcome.matched:
            result.matched += 1
        else:
            result.mismatched += 1
    for message in messages:
        message.ack()


def _check_fits(pair: ShadowPair) -> None:
    """Refuse what the result columns cannot hold (a poison pair must not stop the worker)."""
    for name, value, limit in (("id", pair.id, MAX_PAIR_ID), ("route", pair.route, MAX_ROUTE)):
        if len(value) > limit:
            raise MalformedPair(f"pair.{name} is longer than {limit} characters")


def _drop_broken_connection() -> None:
    """A long-running worker: reconnect when the database closed the connection (never inside a caller's
    transaction, as in tests)."""
    connection = connections[DATABASE]
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
