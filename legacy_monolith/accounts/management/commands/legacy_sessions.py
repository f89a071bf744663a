"""`manage.py legacy_sessions report|expire|retire-check`: live legacy sessions and API tokens during the auth
cutover, and whether they may be turned off.

legacy_sessions report [--idle-for SECONDS] [--json]
legacy_sessions retire-check [--json]   exit 0: route.auth.login at 100% and none live; exit 1 otherwise
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
    LOGIN_FLAG,
    legacy_credentials_expire,
    legacy_credentials_report,
    legacy_credentials_retire_check,
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
        retire = actions.add_parser(
            "retire-check",
            help=f"may legacy sessions and tokens be turned off ({LOGIN_FLAG} at 100%%, none live)?",
        )
        cli.add_json(retire)
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

    def handle(self, *args, action: str, idle_for: int | None = None, **options) -> None:
        if action == "retire-check":
            self._retire_check(json_output=options["json"])
            return
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

    def _retire_check(self, *, json_output: bool) -> None:
        from flags.config import FlagsConfig
        from flags.gates import effective_percentage
        from flags.store import open_store

        percentage = effective_percentage(open_store(FlagsConfig.from_env()).get_flag(LOGIN_FLAG))
        check = legacy_credentials_retire_check(login_percentage=percentage)
        if json_output:
            self.stdout.write(json.dumps(check.to_dict()))
        if not check.ready:
            failure = cli.CheckFailed(
                "not_ready",
                f"legacy sessions and tokens cannot be turned off yet ({len(check.reasons)} reasons)",
                extra=check.to_dict(),
            )
            failure.detail_lines = check.reasons
            raise failure
        if not json_output:
            self.stdout.write(
                f"{LOGIN_FLAG} at 100%, no legacy session or token live: LEGACY_CREDENTIALS, "
                "GATEWAY_LEGACY_CREDENTIALS and AUTH_LEGACY_CREDENTIALS may be turned off"
            )
