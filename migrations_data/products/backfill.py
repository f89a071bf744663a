"""`sync products backfill`: categories, then products, through the Product service's import path."""

from __future__ import annotations

from migrations_data.engine.backfill import BackfillResult, run_backfill
from migrations_data.engine.http import InternalApiClient
from migrations_data.engine.progress import Tracker

from .spec import catalog_specs


def backfill_products(
    *,
    client: InternalApiClient,
    batch_size: int = 1000,
    dry_run: bool = False,
    restart: bool = False,
    in_flight: int = 2,
    tracker: Tracker | None = None,
) -> list[BackfillResult]:
    """Backfill every category then every product; each resumes from its own checkpoint."""
    return [
        run_backfill(
            spec,
            batch_size=batch_size,
            dry_run=dry_run,
            restart=restart,
            in_flight=in_flight,
            tracker=tracker,
        )
        for spec in catalog_specs(client)
    ]
