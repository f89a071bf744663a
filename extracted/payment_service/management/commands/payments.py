"""`python -m extracted.payment_service payments ...`: the reconciler by hand, and the audit chain.

payments reconcile [--since 6h|2024-05-01T00:00Z] [--dry-run] [--limit N] [--json] [--no-progress]
    ask the provider about every payment left pending, authorized or unsure and settle it (the periodic
    Celery beat task runs the same); --dry-run reports what it would do and changes nothing.
    Exit 0: done; 1 (`provider_unavailable`): some payments could not be checked; 2: bad usage or an
    unusable environment.
payments audit verify [--json]
    walk the audit hash chain; exit 1 (`audit_chain_broken`) if an entry was edited, removed,
    reordered or cut.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from contracts import cli
from extracted.payment_service.audit import audit_verify
from extracted.payment_service.services.reconcile import payments_reconcile, reconcile_candidates


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Payment service operations: reconcile, audit verify."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["audit", "verify"], "bad_argument": ["reconcile", "--limit", "0"]}

    def add_arguments(self, parser) -> None:
        areas = parser.add_subparsers(dest="area", required=True)
        reconcile = areas.add_parser("reconcile", help="settle open and unsure payments at their provider")
        cli.add_since(reconcile, "only payments changed since")
        reconcile.add_argument("--dry-run", action="store_true", help="report, change nothing")
        reconcile.add_argument("--limit", type=cli.positive_int, default=None, help="at most N payments")
        cli.add_json(reconcile)
        cli.add_no_progress(reconcile)
        audit = areas.add_parser("audit").add_subparsers(dest="action", required=True)
        verify = audit.add_parser("verify", help="check the audit hash chain")
        cli.add_json(verify)

    def handle(self, *args, area: str, **options) -> None:
        if area == "reconcile":
            self._reconcile(**options)
        else:
            self._audit_verify(**options)

    def _reconcile(self, *, since, dry_run, limit, json: bool, no_progress: bool, **options) -> None:
        since_at = cli.parse_since(since)
        total = reconcile_candidates(since=since_at).count()
        total = min(total, limit) if limit is not None else total
        with Progress(console=Console(stderr=True), disable=json or no_progress, transient=True) as progress:
            task = progress.add_task("reconciling", total=total)
            report = payments_reconcile(
                since=since_at, dry_run=dry_run, limit=limit, progress=lambda n: progress.advance(task, n)
            )
        if json:
            self.stdout.write(_json(report.to_dict()))
        else:
            table = Table(title="payments reconcile" + (" (dry run)" if dry_run else ""))
            table.add_column("action")
            table.add_column("payments", justify="right")
            for action, number in sorted(report.actions.items()):
                table.add_row(action, str(number))
            Console(file=self.stdout, width=100).print(table)
            self.stdout.write(
                f"{report.checked} payment(s) checked; {len(report.errors)} could not be checked"
            )
        if report.errors:
            raise cli.CheckFailed(
                "provider_unavailable",
                f"{len(report.errors)} payment(s) could not be checked: {report.errors[0]}",
            )

    def _audit_verify(self, *, json: bool, **options) -> None:
        verification = audit_verify()
        if json:
            self.stdout.write(_json(verification.to_dict()))
        elif verification.ok:
            self.stdout.write(f"audit chain ok: {verification.entries} entries")
        if not verification.ok:
            raise cli.CheckFailed(
                "audit_chain_broken", f"broken at entry {verification.bad_line}: {verification.reason}"
            )


def _json(data) -> str:
    return json.dumps(data, default=str, sort_keys=True)
