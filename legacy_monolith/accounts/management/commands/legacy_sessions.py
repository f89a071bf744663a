"""`manage.py legacy_sessions report|expire`: live legacy sessions and API tokens during the auth cutover.

legacy_sessions report [--idle-for SECONDS] [--json]
legacy_sessions expire [--kind sessions|tokens|all] [--batch-size N] [--limit N] [--idle-for SECONDS]
                       [--pause SECONDS] [--dry-run] [--json] [--no-progress]
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

from django.core.management.base import BaseCommand
from rich.console import Console

from contracts import cli
from legacy_monolith.accounts.legacy_sessions import (
    KINDS,
    legacy_credentials_expire,
    legacy_credentials_report,
)
from legacy_monolith.core.management.seeding.base import NullProgress
from legacy_monolith.core.management.seeding.report import RichProgress


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Report live legacy sessions and API tokens, or expire them in batches."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["report"], "bad_argument": ["expire", "--batch-size", "0"]}

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        report = actions.add_parser("report", help="how many legacy sessions and tokens are live")
        expire = actions.add_parser("expire", help="delete sessions / revoke tokens in batches")
        for sub in (report, expire):
            sub.add_argument(
                "--idle-for", type=cli.positive_int, help="only credentials unused for this many seconds"
            )
            cli.add_json(sub)
        expire.add_argument("--kind", choices=[*KINDS, "all"], default="all")
        expire.add_argument("--batch-size", type=cli.positive_int, default=500)
        expire.add_argument("--limit", type=cli.positive_int, help="at most this many of each kind")
        expire.add_argument(
            "--pause", type=cli.non_negative_float, default=0.0, help="seconds between batches"
        )
        expire.add_argument("--dry-run", action="store_true", help="count what would be expired")
        cli.add_no_progress(expire)

    def handle(self, *args, action: str, idle_for: int | None, **options) -> None:
        idle = timedelta(seconds=idle_for) if idle_for else None
        if action == "report":
            report = legacy_credentials_report(idle_for=idle)
            text = (
                f"live legacy sessions {report.sessions}, tokens {report.tokens} ({report.token_users} users)"
            )
            if idle is not None:
                text += (
                    f"; idle for {idle_for} s: sessions {report.sessions_idle}, tokens {report.tokens_idle}"
                )
            self.stdout.write(json.dumps(report.to_dict()) if options["json"] else text)
            return
        kinds = KINDS if options["kind"] == "all" else (options["kind"],)
        quiet = options["no_progress"] or options["json"]
        progress = NullProgress() if quiet else RichProgress(Console(stderr=True))
        with contextlib.nullcontext() if quiet else progress:
            for kind in kinds:
                progress.start(kind, total=None)
            result = legacy_credentials_expire(
                kinds=kinds,
                batch_size=options["batch_size"],
                limit=options["limit"],
                idle_for=idle,
                pause_seconds=options["pause"],
                dry_run=options["dry_run"],
                on_batch=progress.advance,
            )
        verb = "would expire" if result.dry_run else "expired"
        text = f"{verb} {result.sessions_expired} sessions and {result.tokens_revoked} tokens"
        self.stdout.write(
            json.dumps(result.to_dict()) if options["json"] else f"{text} in {result.batches} batches"
        )
