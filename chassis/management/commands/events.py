"""`events dlq list|show|replay|purge`: the dead-letter console of this service's consumers (chassis/dlq.py).

    events dlq list [--consumer C] [--limit N] [--json]
    events dlq show ID [--consumer C] [--json]
    events dlq replay ID... [--consumer C] [--dry-run] [--json]
    events dlq replay --all --consumer C [--dry-run] [--json]
    events dlq purge ID... [--consumer C] [--dry-run] [--json]
    events dlq purge --all --consumer C [--dry-run] [--json]
    events keys rotate [--overlap SECONDS] [--json]   (the event-signing keys, chassis/event_keys.py)
    events keys list [--json]

Exit codes (CONVENTIONS.md): 0 done; 1 a named dead letter is not there; 2 bad usage or the broker cannot
be reached; one line on stderr.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.table import Table

from chassis.broker import broker_connection
from chassis.consumers import consumer_classes
from chassis.dlq import DEFAULT_LIMIT, DeadLetterConsole, DlqResult
from chassis.event_keys_cli import add_keys_parser, run_keys
from contracts import cli


def run_dlq(console: DeadLetterConsole, options: dict) -> DlqResult:
    """The action the parsed options ask for (the plain function behind the command)."""
    action, consumer = options["action"], options.get("consumer")
    if action == "list":
        return console.list(consumer, limit=options["limit"])
    if action == "show":
        return console.show(options["id"], consumer)
    method = console.replay if action == "replay" else console.purge
    ids = options.get("ids") or ()
    return method(ids, consumer=consumer, all_=options["all"], dry_run=options["dry_run"])


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Dead-letter console: list, show, replay and purge the DLQs of this service's consumers."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"broker": ["dlq", "list"], "bad_argument": ["dlq", "list", "--limit", "0"]}

    def add_arguments(self, parser):
        areas = parser.add_subparsers(dest="area", required=True)
        dlq = areas.add_parser("dlq", help="the consumers' dead-letter queues")
        actions = dlq.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="dead letters, with why they failed")
        listing.add_argument("--consumer")
        listing.add_argument("--limit", type=cli.positive_int, default=DEFAULT_LIMIT, help="per consumer")
        show = actions.add_parser("show", help="one dead letter: headers and envelope")
        show.add_argument("id")
        show.add_argument("--consumer")
        for name, what in (("replay", "back through the consumer"), ("purge", "drop for good")):
            sub = actions.add_parser(name, help=f"dead letters {what}")
            sub.add_argument("ids", nargs="*", metavar="ID")
            sub.add_argument("--all", action="store_true", help="every message in the DLQ (needs --consumer)")
            sub.add_argument("--consumer")
            sub.add_argument("--dry-run", action="store_true", help="say what would be done, change nothing")
        for sub in (listing, show, *(actions.choices[n] for n in ("replay", "purge"))):
            cli.add_json(sub)
        add_keys_parser(areas)

    def handle(self, *args, **options):
        if options["area"] == "keys":
            self.stdout.write(run_keys(options))
            return
        names = [cls.name for cls in consumer_classes()]
        with broker_connection() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=5)
            result = run_dlq(DeadLetterConsole(connection, names), options)
        if options["json"]:
            document = result.to_dict()
            if result.action == "show":
                document["dead_letters"] = [letter.detail() for letter in result.letters]
            self.stdout.write(json.dumps(document, indent=2))
            return
        self._print(result)

    def _print(self, result: DlqResult) -> None:
        out = Console(file=self.stdout, width=160, soft_wrap=True)
        if result.action == "show":
            for letter in result.letters:
                out.print_json(json.dumps(letter.detail()))
            return
        if result.letters:
            table = Table("id", "consumer", "type", "attempts", "first failure", "last failure", "error")
            for letter in result.letters:
                table.add_row(
                    letter.id, letter.consumer, letter.event_type, str(letter.attempts),
                    letter.first_failed_at, letter.last_failed_at, letter.error[:80],
                )  # fmt: skip
            out.print(table)
        counts = ", ".join(f"{name}: {count}" for name, count in result.counts.items()) or "no consumers"
        if result.action == "list":
            out.print(f"dead letters: {counts}")
        else:
            verb = {"replay": "replayed", "purge": "purged"}[result.action]
            prefix = "dry run: would have " if result.dry_run else ""
            out.print(f"{prefix}{verb} {len(result.done)} dead letter(s) ({counts} before)")
