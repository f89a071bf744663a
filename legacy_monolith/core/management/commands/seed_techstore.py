"""manage.py seed_techstore: deterministic demo and benchmark data, inserted in bulk.

Seeded users log in with the password "techstore-demo" (development data only): `admin`, `staff1`..`staff3`
and the customers. A database that already holds seeded rows is refused unless --append or --reset.
"""

import argparse
import json
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from contracts import cli
from legacy_monolith.core.management.seeding import Mode, SeedError, seed_techstore, seeded_data_counts
from legacy_monolith.core.management.seeding.report import RichProgress, summary_notes, summary_table


def day(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date like 2026-01-31") from None


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Seed TechStore with users, products (with stock movements) and historical orders."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {
        "database": ["--users", "1", "--products", "1", "--orders", "0", "--no-progress"],
        "bad_argument": ["--users", "-1"],
    }

    def add_arguments(self, parser):
        parser.add_argument("--users", type=cli.count, default=50, help="customers to create (default 50)")
        parser.add_argument(
            "--products", type=cli.count, default=1000, help="products to create (default 1000)"
        )
        parser.add_argument("--orders", type=cli.count, default=200, help="historical orders (default 200)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--batch-size", type=cli.positive_int, default=5000, help="rows per INSERT (default 5000)"
        )
        parser.add_argument(
            "--as-of", type=day, default=None, help="date timestamps count back from (default today)"
        )
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--append", action="store_true", help="add to existing seeded data")
        mode.add_argument(
            "--reset", action="store_true", help="delete seeded rows first (rows users made stay)"
        )
        mode.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only a database without seeded rows, else do nothing (a deployment's bootstrap)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")
        parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    def handle(self, *args, **options):
        if options["if_empty"] and any(seeded_data_counts().values()):
            counts = seeded_data_counts()
            if options["json"]:
                self.stdout.write(json.dumps({"skipped": True, "existing": counts}, sort_keys=True))
            else:
                self.stdout.write(f"already seeded ({counts}): nothing done")
            return
        mode = Mode.APPEND if options["append"] else Mode.RESET if options["reset"] else Mode.FRESH
        quiet = options["no_progress"] or options["json"]
        console = Console(file=self.stdout, soft_wrap=True)
        progress = RichProgress(Console(stderr=True)) if not quiet else None
        try:
            if progress:
                with progress:
                    result = self._seed(options, mode, progress)
            else:
                result = self._seed(options, mode, None)
        except SeedError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
        else:
            console.print(summary_table(result))
            for line in summary_notes(result):
                console.print(line, highlight=False)

    @staticmethod
    def _seed(options, mode, progress):
        return seed_techstore(
            users=options["users"],
            products=options["products"],
            orders=options["orders"],
            seed=options["seed"],
            mode=mode,
            batch_size=options["batch_size"],
            as_of=options["as_of"],
            progress=progress,
        )
