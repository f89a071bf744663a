"""How a seed run looks on a terminal: rich progress bars per entity and a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .runner import SeedResult


class RichProgress:
    """A bar per entity (products, users, orders); use as a context manager around the seed."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()

    def start(self, entity: str, total: int) -> None:
        self._tasks[entity] = self._progress.add_task(entity, total=total)

    def advance(self, entity: str, step: int) -> None:
        self._progress.advance(self._tasks[entity], step)


def summary_table(result: SeedResult) -> Table:
    table = Table(title=f"TechStore seed {result.seed} ({result.mode}, {result.database})")
    table.add_column("table")
    table.add_column("created", justify="right")
    if result.deleted:
        table.add_column("deleted", justify="right")
    for name in sorted(set(result.created) | set(result.deleted)):
        row = [name, f"{result.created.get(name, 0):,}"]
        if result.deleted:
            row.append(f"{result.deleted.get(name, 0):,}")
        table.add_row(*row)
    return table


def summary_notes(result: SeedResult) -> list[str]:
    """The lines printed under the table: timings, SKU range, how to log in."""
    steps = ", ".join(f"{step} {seconds:.1f} s" for step, seconds in result.seconds.items())
    return [
        f"{steps}; total {result.total_seconds:.1f} s",
        f"seeded SKUs {result.first_sku or '-'} .. {result.last_sku or '-'}",
        f"seeded users (admin, staff1..staff3, customers) log in with password '{result.demo_password}'",
    ]
