"""`sync products status`: how far behind the Product service is, measured on both sides.

- relay lag: outbox rows not yet published, the age of the oldest one, events sent in the last minute;
- consumer lag: the monolith's highest product sync_version against the highest version the Product
  service applied (`GET /internal/v1/sync/status`), and the product counts on both sides;
- the broker: messages waiting in the consumer's queue, when a queue is named and the broker answers.
Each part that cannot be reached is reported as an error string, never raised: status must answer
while things are broken, that is when it is needed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Count, Max
from rich.table import Table

from legacy_monolith.catalog.models import Product

from ..engine.errors import SyncError
from ..engine.http import InternalApiClient
from ..models import OutboxEvent
from .relay import broker_connection_args, outbox_backlog

STATUS_TIMEOUT_SECONDS = 3.0
# The Product service's consumer of the relay's events (extracted.product_service.consumers.CatalogConsumer).
PRODUCT_SERVICE_QUEUE = "product_service.catalog"


@dataclass
class SyncStatus:
    outbox_pending: int
    relay_lag_seconds: float  # age of the oldest pending outbox row; 0 when none
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

    @property
    def in_sync(self) -> bool:
        """Nothing pending, nothing queued, and the service holds the monolith's newest version."""
        return (
            self.outbox_pending == 0
            and not self.queue_depth
            and self.consumer_lag_versions is not None
            and self.consumer_lag_versions <= 0
            and self.target_products == self.source_products
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "relay_lag_seconds": round(self.relay_lag_seconds, 3),
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
    pending, lag = outbox_backlog()
    minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    source = Product.objects.aggregate(n=Count("id"), v=Max("sync_version"))
    status = SyncStatus(
        outbox_pending=pending,
        relay_lag_seconds=lag,
        sent_last_minute=OutboxEvent.objects.filter(sent_at__gte=minute_ago).count(),
        source_products=source["n"],
        source_max_version=source["v"] or 0,
        queue=queue,
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
            status.queue_error = f"{type(exc).__name__}: {exc}"
    return status


def _show(value: Any, error: str | None = None) -> str:
    if error:
        return f"[red]unavailable[/red] ({error})"
    return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def status_table(status: SyncStatus) -> Table:
    """The human form of `sync products status`."""
    table = Table(title="products sync status", show_header=True)
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("outbox pending rows", _show(status.outbox_pending)),
        ("relay lag (oldest pending)", f"{status.relay_lag_seconds:.1f} s"),
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
        rows.append((f"queue {status.queue} depth", _show(status.queue_depth, status.queue_error)))
    rows.append(("in sync", "[green]yes[/green]" if status.in_sync else "[yellow]no[/yellow]"))
    for name, value in rows:
        table.add_row(name, value)
    return table
