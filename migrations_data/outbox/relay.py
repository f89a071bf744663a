"""The monolith's outbox relay: the trigger-written outbox rows, published to the broker.

Built on the chassis' generic relay (chassis.outbox.relay.OutboxRelay: one transaction per batch,
claim with SELECT ... FOR UPDATE SKIP LOCKED in id order, publish each event with publisher confirms
through chassis.broker.Publisher, mark sent in the transaction that locked the rows; on a broker
failure the rows stay pending and the relay backs off and retries). This module is the monolith's
`source` for it: MonolithOutboxSource turns outbox rows into events.

Coalescing: the rows of one entity in a claimed batch become ONE event carrying the entity's CURRENT row
(category joined), translated by the ACL (acl_adapters.catalog.translate), so its version is the newest.
Marking that event sent marks all those rows. An upsert whose row is gone by then is marked sent without
an event: its delete is in the outbox too, with a greater version. Deletes are `{id, version}` tombstones.

Nothing is lost: a row is marked sent only in the transaction in which its event was confirmed. An event
may be published twice (a crash between confirm and commit), which the consumer's version rule makes a no-op.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import Count, F, Min
from django.utils import timezone

from acl_adapters.catalog.translate import (
    CATEGORY_ROW_FIELDS,
    MOVEMENT_ROW_FIELDS,
    PRODUCT_ROW_FIELDS,
    category_row_to_document,
    movement_row_to_document,
    product_row_to_document,
)
from chassis.broker import Publisher
from chassis.event_keys import EventSigner
from chassis.outbox.relay import OutboxRelay, PendingEvent
from chassis.settings import EVENTS_EXCHANGE, filesystem_broker_options
from contracts.cli import EnvironmentUnusable
from contracts.events import Envelope
from contracts.tracecontext import new_trace_id
from legacy_monolith.accounts.models import AccountEmail
from legacy_monolith.catalog.models import Category, Product, StockMovement

from ..models import OutboxEvent
from . import metrics

logger = logging.getLogger(__name__)

SOURCE = "monolith"
RELAY_NAME = "monolith"
ROUTING_KEYS = {
    ("product", "upsert"): "catalog.product.upserted",
    ("product", "delete"): "catalog.product.deleted",
    ("category", "upsert"): "catalog.category.upserted",
    ("category", "delete"): "catalog.category.deleted",
    # a stock movement made on the monolith, for the Product service's history (the contract's document)
    ("stock_movement", "upsert"): "catalog.stock.moved",
}
ACCOUNT_EMAIL_IDS = uuid.UUID("6d6f6e6f-6c69-5468-a163-636f756e7473")  # uuid5 namespace of their event ids
BACKLOG_REFRESH_SECONDS = 1.0
PRUNE_EVERY_SECONDS = 600.0
PRUNE_BATCH = 5000
DEFAULT_RETENTION = timedelta(days=7)


def broker_connection_args(broker_url: str | None = None) -> tuple[str, dict[str, Any]]:
    """(url, transport options) for the monolith's BROKER_URL; unset = the embedded profile's kombu
    filesystem transport in var/broker, the folder the services read. Publisher adds confirms on amqp."""
    from django.conf import settings

    url = settings.BROKER_URL if broker_url is None else broker_url
    if not url:
        return "filesystem://", filesystem_broker_options(settings.VAR_DIR / "broker")
    return url, {}


def outbox_backlog() -> tuple[int, float]:
    """(pending rows, age in seconds of the oldest pending row; 0 when none)."""
    backlog = OutboxEvent.objects.filter(sent_at__isnull=True).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    oldest = backlog["oldest"]
    age = max(0.0, (datetime.now(UTC) - oldest).total_seconds()) if oldest else 0.0
    return backlog["n"], age


def outbox_prune(*, older_than: timedelta, batch_size: int = PRUNE_BATCH) -> int:
    """Delete outbox rows sent more than `older_than` ago, in batches; returns how many. Pending rows are
    never touched."""
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(sent_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += OutboxEvent.objects.filter(id__in=ids).delete()[0]


def _trace_of(group: list[dict[str, Any]]) -> str:
    """The newest change's trace id when its request left one, else a new trace."""
    for row in reversed(group):
        trace_id = row.get("trace_id") or ""
        if len(trace_id) == 32 and all(c in "0123456789abcdef" for c in trace_id):
            return trace_id
    return new_trace_id()


@dataclass
class RelayResult:
    """What a run of the relay did; `as_dict()` is the --json form."""

    rows: int = 0  # outbox rows marked sent
    events: int = 0  # events confirmed by the broker
    skipped: int = 0  # upserts of rows deleted meanwhile (their tombstone is sent instead)
    pruned: int = 0  # sent rows older than the retention, deleted while idle
    failures: int = 0  # publish failures (each followed by a backoff and a retry)
    by_type: Counter = field(default_factory=Counter)
    max_version: int = 0
    seconds: float = 0.0
    stopped_by: str = ""  # "drained" (once) or "stopped"

    @property
    def coalesced(self) -> int:
        """Outbox rows that did not need an event of their own."""
        return self.rows - self.events - self.skipped

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "events": self.events,
            "coalesced": self.coalesced,
            "skipped": self.skipped,
            "pruned": self.pruned,
            "failures": self.failures,
            "by_type": dict(sorted(self.by_type.items())),
            "max_version": self.max_version,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events / self.seconds, 1) if self.seconds else 0.0,
            "stopped_by": self.stopped_by,
        }


def account_email_event_id(mail_id: int) -> str:
    """The event id of an account email, the same at every publication (uuid5 bits in the uuid4 form the
    envelope contract requires)."""
    return str(uuid.UUID(bytes=uuid.uuid5(ACCOUNT_EMAIL_IDS, str(mail_id)).bytes, version=4))


def _account_emails(ids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
    """The account emails of these ids as (event type, data of contracts/notifications.py), by id."""
    if not ids:
        return {}
    mails = AccountEmail.objects.filter(id__in=ids, published_at__isnull=True)
    out = {}
    for mail in mails:
        data = {
            "user_id": mail.user_id,
            "email": mail.email,
            "first_name": mail.first_name,
            "locale": mail.locale,
        }
        if mail.kind == AccountEmail.Kind.PASSWORD_RESET_REQUESTED:
            data["reset_url"] = mail.reset_url
        out[mail.pk] = (mail.kind, data)
    return out


def _current_documents(entity: str, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The entities' current rows as contract documents (the ACL translators), by id."""
    if not ids:
        return {}
    if entity == "product":
        rows = Product.objects.filter(id__in=ids).values(*PRODUCT_ROW_FIELDS)
        return {row["id"]: product_row_to_document(row) for row in rows}
    if entity == "stock_movement":
        rows = StockMovement.objects.filter(id__in=ids).values(*MOVEMENT_ROW_FIELDS)
        return {row["id"]: movement_row_to_document(row) for row in rows}
    rows = Category.objects.filter(id__in=ids).values(*CATEGORY_ROW_FIELDS)
    return {row["id"]: category_row_to_document(row) for row in rows}


class MonolithOutboxSource:
    """The OutboxRelay source over migrations_data.OutboxEvent (rows written by the catalog triggers).

    Also the relay's observer: it keeps the RelayResult, the backlog gauges and the live display current
    as the relay claims, marks and fails.
    """

    def __init__(
        self, *, result: RelayResult | None = None, on_change=None, retention: timedelta | None = None
    ) -> None:
        self.result = result or RelayResult()
        self.retention = retention
        self._pruned_at = float("-inf")
        self.on_change = on_change or (lambda: None)
        self._rows_of: dict[int, list[int]] = {}  # event id (newest row id) -> the rows it stands for
        self._events: dict[int, Envelope] = {}
        self.pending, self.lag, self._measured = 0, 0.0, float("-inf")

    def atomic(self):
        return transaction.atomic()

    def claim(self, batch_size: int) -> list[PendingEvent]:
        self._rows_of, self._events = {}, {}
        while True:  # a batch made only of skipped rows is marked and the next one read
            rows = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(sent_at__isnull=True)
                .order_by("id")
                .values("id", "entity", "entity_id", "op", "version", "created_at", "trace_id")[:batch_size]
            )
            if not rows:
                self.refresh_backlog(force=True)
                self._prune_when_due()
                return []
            pending = self._coalesce(rows)
            if pending:
                return pending

    def _prune_when_due(self) -> None:
        """While idle, at most once a PRUNE_EVERY_SECONDS: forget rows sent longer ago than the retention."""
        now = time.monotonic()
        if self.retention is not None and now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            self.result.pruned += outbox_prune(older_than=self.retention)

    def _coalesce(self, rows: list[dict[str, Any]]) -> list[PendingEvent]:
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for row in rows:
            groups.setdefault((row["entity"], row["entity_id"]), []).append(row)
        newest = {key: max(group, key=lambda row: row["version"]) for key, group in groups.items()}
        documents = {
            entity: _current_documents(
                entity, [key[1] for key, row in newest.items() if key[0] == entity and row["op"] == "upsert"]
            )
            for entity in ("product", "category", "stock_movement")
        }
        pending, skipped = [], []
        mails = _account_emails([key[1] for key in groups if key[0] == OutboxEvent.Entity.ACCOUNT_EMAIL])
        for (entity, entity_id), group in sorted(groups.items(), key=lambda item: item[1][-1]["id"]):
            latest = newest[(entity, entity_id)]
            event_type = ROUTING_KEYS.get((entity, latest["op"]), "")
            if entity == OutboxEvent.Entity.ACCOUNT_EMAIL:  # an event of its own (one row per email)
                event_type, data = mails.get(entity_id, ("", None))
                if data is None:  # published already (a row marked sent twice is harmless) or gone
                    skipped += [row["id"] for row in group]
                    continue
            elif latest["op"] == "delete":
                data = {"id": entity_id, "version": latest["version"]}
            else:
                data = documents[entity].get(entity_id)
                if data is None:
                    skipped += [row["id"] for row in group]
                    continue
            event_id = group[-1]["id"]
            envelope = Envelope(
                # an account email's event id is its own, whatever the attempt: the service sends once per id
                id=account_email_event_id(entity_id)
                if entity == OutboxEvent.Entity.ACCOUNT_EMAIL
                else str(uuid.uuid4()),
                type=event_type,
                occurred_at=latest["created_at"].astimezone(UTC),
                # the trace of the request that wrote the newest change (PostgreSQL), else a new one
                trace_id=_trace_of(group),
                source=SOURCE,
                data=data,
            )
            self._rows_of[event_id] = [row["id"] for row in group]
            self._events[event_id] = envelope
            pending.append(PendingEvent(event_id, envelope))
        if skipped:
            self._mark(skipped, sent=True)
            self.result.rows += len(skipped)
            self.result.skipped += len(skipped)
        return pending

    def _mark(self, row_ids: list[int], *, sent: bool) -> None:
        changes: dict[str, Any] = {"attempts": F("attempts") + 1}
        if sent:
            changes["sent_at"] = timezone.now()
        OutboxEvent.objects.filter(id__in=row_ids).update(**changes)

    def mark_sent(self, ids: Sequence[int]) -> None:
        row_ids = [row_id for event_id in ids for row_id in self._rows_of[event_id]]
        self._mark(row_ids, sent=True)
        # An account email, once published, forgets the reset link (its token) it carried.
        mails = OutboxEvent.objects.filter(id__in=row_ids, entity=OutboxEvent.Entity.ACCOUNT_EMAIL)
        AccountEmail.objects.filter(id__in=mails.values("entity_id")).update(
            published_at=timezone.now(), reset_url=""
        )
        self.result.rows += len(row_ids)
        self.result.events += len(ids)
        for event_id in ids:
            envelope = self._events[event_id]
            self.result.by_type[envelope.type] += 1
            self.result.max_version = max(self.result.max_version, int(envelope.data.get("version", 0)))
        self.refresh_backlog()

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        self._mark([row_id for event_id in ids for row_id in self._rows_of[event_id]], sent=False)
        self.result.failures += 1
        self.refresh_backlog()  # the lag grows while the broker is down: that is when it matters

    def refresh_backlog(self, *, force: bool = False) -> None:
        """Measure the backlog (at most once a BACKLOG_REFRESH_SECONDS) into the gauges and the display."""
        now = time.monotonic()
        if force or now - self._measured >= BACKLOG_REFRESH_SECONDS:
            try:
                with transaction.atomic(savepoint=True):
                    self.pending, self.lag = outbox_backlog()
            except DatabaseError:
                logger.debug("could not measure the outbox backlog", exc_info=True)
            else:
                self._measured = now
                metrics.OUTBOX_PENDING.set(self.pending)
                metrics.LAG_SECONDS.set(self.lag)
        self.on_change()


class _Display:
    """One live status line on stderr (rich), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self.progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn

            self.progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), console=Console(stderr=True)
            )
            self.task = self.progress.add_task("relay starting", total=None)
        self.started = time.monotonic()

    def __enter__(self) -> _Display:
        if self.progress:
            self.progress.start()
        return self

    def show(self, source: MonolithOutboxSource) -> None:
        if self.progress:
            result = source.result
            rate = result.events / max(time.monotonic() - self.started, 1e-9)
            self.progress.update(
                self.task,
                description=(
                    f"relay: {result.events:,} events ({rate:,.0f}/s), {result.rows:,} outbox rows, "
                    f"pending {source.pending:,}, lag {source.lag:.1f} s, failures {result.failures}"
                ),
            )

    def __exit__(self, *exc_info) -> None:
        if self.progress:
            self.progress.stop()


def relay_precheck() -> None:
    """Touch the outbox table once, so a database that is down, missing or not migrated fails the command
    at start with its own error (the relay loop itself keeps going through database outages)."""
    OutboxEvent.objects.filter(sent_at__isnull=True).exists()


def run_relay(
    *,
    batch_size: int = 500,
    once: bool = False,
    timeout: float | None = None,
    poll_interval: float = 1.0,
    stop_event: threading.Event | None = None,
    progress: bool = True,
    exchange: str = EVENTS_EXCHANGE,
    broker_url: str | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    max_backoff: float = 5.0,
    retention: timedelta | None = DEFAULT_RETENTION,
) -> RelayResult:
    """Relay the outbox to the broker until `stop_event` is set or, with `once`, until it is drained.

    batch_size: outbox rows claimed per transaction. poll_interval: seconds to wait when nothing is
    pending. exchange: the topic exchange (tests pass their own). broker_url: default settings.BROKER_URL.
    metrics_port: serve the gauges strangler_sync_outbox_pending and strangler_sync_lag_seconds on
    metrics_host:metrics_port while running. A broker failure leaves the rows pending; the relay backs
    off (up to `max_backoff` seconds) and retries for as long as it takes, except that with `once` a
    `timeout` (seconds) ends the run with EnvironmentUnusable `timed_out` naming the last error.
    retention: while idle (at most every 10 minutes), delete rows sent longer ago than this (None keeps
    them all).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    stop_event = stop_event or threading.Event()
    url, transport_options = broker_connection_args(broker_url)
    started = time.monotonic()
    server = None
    with (
        Publisher(
            url, transport_options=transport_options, exchange=exchange, backoff_max=max_backoff
        ) as publisher,
        _Display(progress) as display,
    ):
        source = MonolithOutboxSource(retention=retention)
        source.on_change = lambda: display.show(source)
        relay = OutboxRelay(
            source,
            publisher,
            name=RELAY_NAME,
            batch_size=batch_size,
            idle_seconds=poll_interval,
            backoff_base=0.1,
            backoff_max=max_backoff,
            sleep=lambda seconds: (close_old_connections(), stop_event.wait(seconds)),
            # a critical event is signed with the monolith's own key, as source `monolith`
            # (contracts/event_trust.py: the table must name the monolith for that type)
            signer=EventSigner(),
        )
        relay.stop_event = stop_event  # the caller's event stops the loop (its sleeps wait on it too)
        try:
            if metrics_port:
                server = metrics.serve(metrics_port, metrics_host)
            stats = relay.run(until_empty=once, timeout=timeout)
            if stats.timed_out:
                raise EnvironmentUnusable(
                    "timed_out",
                    f"--once gave up after {timeout:g} s with {source.pending} rows still pending; last "
                    f"error: {stats.last_error or 'none'} (check BROKER_URL and that the broker is up)",
                )
        finally:
            source.result.seconds = time.monotonic() - started
            source.result.stopped_by = "stopped" if stop_event.is_set() else "drained"
            if server is not None:
                metrics.stop(server)
    return source.result
