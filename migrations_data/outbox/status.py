"""`sync products status`: how far behind the Product service is, measured on both sides.

- relay lag: outbox rows not yet published, the age of the oldest one, events sent in the last minute.
  Only what sync is responsible for counts against "in sync": rows written before the last finished
  backfill began are covered by it (the backfill copied those products' rows as they were then; relaying
  them later is a no-op), so a clean backfill right after `seed_techstore` is in sync. A transaction still
  open when the backfill began is the one case this cannot see; `sync products verify` compares the data;
- consumer lag: the monolith's highest product sync_version against the highest version the Product
  service applied (`GET /internal/v1/sync/status`), and the product counts on both sides;
- the broker: messages waiting in the consumer's queue, when a queue is named and the broker answers; a
  queue that does not exist yet means no consumer has run (it declares its queue when it starts), and
  events relayed before then are not delivered to it.
Each part that cannot be reached is reported as an error string, never raised: status must answer
while things are broken, that is when it is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max, Min
from rich.table import Table

from legacy_monolith.catalog.models import Product

from ..engine.errors import SyncError
from ..engine.http import InternalApiClient
from ..models import OutboxEvent, SyncCheckpoint
from .relay import broker_connection_args, outbox_backlog

STATUS_TIMEOUT_SECONDS = 3.0
# The Product service's consumer of the relay's events (extracted.product_service.consumers.CatalogConsumer).
PRODUCT_SERVICE_QUEUE = "product_service.catalog"


QUEUE_MISSING = "the queue does not exist yet (no consumer has run)"


@dataclass
class SyncStatus:
    outbox_pending: int  # every row the relay has not published yet
    relay_lag_seconds: float  # age of the oldest row to relay (not covered by a backfill); 0 when none
    sent_last_minute: int
    source_products: int
    source_max_version: int
    target_products: int | None = None
    target_max_version: int | None = None
    target_last_applied_at: str | None = None
    target_error: str | None = None
    consumer_lag_versions: int | None = None  # source max version - target max version
    queue: str | None = None
    queue_depth: int | None = None
    queue_error: str | None = None
    queue_missing: bool = False
    outbox_covered_by_backfill: int = 0  # pending rows written before the last finished backfill began
    backfill_started_at: str | None = None

    @property
    def outbox_to_relay(self) -> int:
        """Pending rows sync is responsible for: written after the last finished backfill began."""
        return self.outbox_pending - self.outbox_covered_by_backfill

    @property
    def in_sync(self) -> bool:
        """Nothing to relay, nothing queued, and the service holds the monolith's newest version."""
        return (
            self.outbox_to_relay == 0
            and not self.queue_depth
            and self.consumer_lag_versions is not None
            and self.consumer_lag_versions <= 0
            and self.target_products == self.source_products
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "relay_lag_seconds": round(self.relay_lag_seconds, 3),
            "outbox_to_relay": self.outbox_to_relay,
            "in_sync": self.in_sync,
        }


def _target(client: InternalApiClient) -> dict[str, Any]:
    return client.get("/internal/v1/sync/status")


def _queue_depth(queue: str, broker_url: str | None) -> int:
    from chassis.broker import broker_connection

    with broker_connection(*broker_connection_args(broker_url)) as conn:
        conn.ensure_connection(max_retries=1)
        _name, messages, _consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(messages)


def sync_status(
    *,
    client: InternalApiClient | None = None,
    queue: str | None = PRODUCT_SERVICE_QUEUE,
    broker_url: str | None = None,
) -> SyncStatus:
    """Measure the sync now.

    client: the Product service's internal API (default: PRODUCT_SERVICE_URL and INTERNAL_API_TOKEN
    from settings, one attempt, short timeouts). queue: the consumer queue whose depth to report
    (default: the Product service's; None: not reported). broker_url: default settings.BROKER_URL.
    """
    now = datetime.now(UTC)
    backlog = relay_backlog(now=now)
    pending, lag, covered, began = backlog.pending, backlog.lag_seconds, backlog.covered, backlog.began
    source = Product.objects.aggregate(n=Count("id"), v=Max("sync_version"))
    status = SyncStatus(
        outbox_pending=pending,
        relay_lag_seconds=lag,
        sent_last_minute=OutboxEvent.objects.filter(sent_at__gte=now - timedelta(minutes=1)).count(),
        source_products=source["n"],
        source_max_version=source["v"] or 0,
        queue=queue,
        outbox_covered_by_backfill=covered,
        backfill_started_at=began.isoformat() if began else None,
    )
    own_client = client is None
    if own_client:
        client = InternalApiClient.from_settings(
            connect_timeout=STATUS_TIMEOUT_SECONDS, read_timeout=STATUS_TIMEOUT_SECONDS, attempts=1
        )
    try:
        target = _target(client)
        status.target_products = int(target["products"])
        status.target_max_version = int(target["max_version"] or 0)
        status.target_last_applied_at = target.get("last_applied_at")
        status.consumer_lag_versions = status.source_max_version - status.target_max_version
    except (SyncError, KeyError, TypeError, ValueError) as exc:
        status.target_error = str(exc)
    finally:
        if own_client:
            client.close()
    if queue:
        try:
            status.queue_depth = _queue_depth(queue, broker_url)
        except Exception as exc:  # broker down, queue missing, refused: report, do not fail status
            if "NOT_FOUND" in str(exc) or "no queue" in str(exc).lower():
                status.queue_missing = True
                status.queue_error = QUEUE_MISSING
            else:
                status.queue_error = f"broker unreachable: {type(exc).__name__}: {exc}"
    return status


@dataclass(frozen=True)
class RelayBacklog:
    pending: int  # every unsent row
    covered: int  # of which written before the last finished backfill began
    lag_seconds: float  # age of the oldest row the relay is responsible for (not covered); 0 when none
    began: datetime | None  # when the last finished backfill began

    @property
    def to_relay(self) -> int:
        return self.pending - self.covered


def relay_backlog(*, now: datetime | None = None) -> RelayBacklog:
    """What the relay still owes the Product service (for `status` and the rollout's sync_lag gate)."""
    now = now or datetime.now(UTC)
    pending, lag = outbox_backlog()
    began = backfill_began_at()
    covered = 0
    if began is not None and pending:
        unsent = OutboxEvent.objects.filter(sent_at__isnull=True)
        covered = unsent.filter(created_at__lt=began).count()
        oldest = unsent.filter(created_at__gte=began).aggregate(t=Min("created_at"))["t"]
        lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
    return RelayBacklog(pending=pending, covered=covered, lag_seconds=lag, began=began)


def backfill_began_at() -> datetime | None:
    """When the last finished catalog backfill (categories, then products) began; None while either has
    never finished (then every pending row is sync's to relay)."""
    runs = list(
        SyncCheckpoint.objects.filter(
            name__in=("categories.backfill", "products.backfill"), finished_at__isnull=False
        ).values_list("started_at", flat=True)
    )
    return min(runs) if len(runs) == 2 else None


def _show(value: Any, error: str | None = None) -> str:
    if error:
        return f"[red]unavailable[/red] ({error})"
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def status_table(status: SyncStatus) -> Table:
    """The human form of `sync products status`."""
    table = Table(title="products sync status", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    covered = status.outbox_covered_by_backfill
    rows = [
        ("outbox rows to relay", _show(status.outbox_to_relay)),
        (
            "outbox rows covered by the backfill",
            f"{covered:,} (written before it began at {status.backfill_started_at}; relaying them is a no-op)"
            if covered
            else "0",
        ),
        ("relay lag (oldest to relay)", f"{status.relay_lag_seconds:.1f} s"),
        ("outbox rows sent in the last minute", _show(status.sent_last_minute)),
        ("monolith products / max version", f"{status.source_products:,} / {status.source_max_version:,}"),
    ]
    if status.target_error:
        rows.append(("product service", _show(None, status.target_error)))
    else:
        rows += [
            ("service products / max version", f"{status.target_products:,} / {status.target_max_version:,}"),
            ("service last applied at", _show(status.target_last_applied_at)),
            ("consumer lag (versions)", _show(status.consumer_lag_versions)),
        ]
    if status.queue:
        if status.queue_missing:
            depth = QUEUE_MISSING + (
                ": events relayed now are not delivered; start the consumer first"
                if status.outbox_to_relay
                else ""
            )
        else:
            depth = _show(status.queue_depth, status.queue_error)
        rows.append((f"queue {status.queue} depth", depth))
    rows.append(("in sync", "[green]yes[/green]" if status.in_sync else "[yellow]no[/yellow]"))
    for name, value in rows:
        table.add_row(name, value)
    return table
