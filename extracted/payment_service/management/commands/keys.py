"""`python -m extracted.payment_service keys ...`: the field encryption keys.

keys rotate [--actor WHO] [--json]            a new active data key (new values are sealed with it; audited)
keys reencrypt [--batch-size 500] [--limit N] [--json] [--no-progress]
                                              move values sealed under older keys to the active one, in
                                              batches; a killed run resumes at its checkpoint
keys list [--json]                            every key, whether active, and how many values it seals
Exit 0: done; 1 (`stopped_at_limit`): `reencrypt --limit` stopped before the end (run it again to go on);
2: bad usage or an unusable environment (database, PAYMENT_KEY_ENCRYPTION_KEY, a key that does not open).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from rich.console import Console
from rich.progress import Progress

from contracts import cli
from extracted.payment_service import keys


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Field encryption keys: rotate, reencrypt, list."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["list"], "bad_argument": ["reencrypt", "--batch-size", "0"]}

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        rotate = actions.add_parser("rotate", help="make a new active data key")
        rotate.add_argument("--actor", default="", help="who rotates (audited)")
        cli.add_json(rotate)
        reencrypt = actions.add_parser("reencrypt", help="move values to the active key (resumable)")
        reencrypt.add_argument("--batch-size", type=cli.positive_int, default=500)
        reencrypt.add_argument(
            "--limit", type=cli.positive_int, default=None, help="stop after about N values"
        )
        cli.add_json(reencrypt)
        cli.add_no_progress(reencrypt)
        listing = actions.add_parser("list", help="every key and what it seals")
        cli.add_json(listing)

    def handle(self, *args, action: str, **options) -> None:
        try:
            getattr(self, f"_{action}")(**options)
        except keys.DataKeyError as exc:
            raise cli.EnvironmentUnusable("key_unusable", str(exc)) from None

    def _rotate(self, *, actor: str, json: bool, **options) -> None:
        kid = keys.key_rotate(actor=actor or "keys rotate")
        self.stdout.write(
            _json({"active": kid}) if json else f"new active key {kid}; run `keys reencrypt` next"
        )

    def _reencrypt(self, *, batch_size: int, limit, json: bool, no_progress: bool, **options) -> None:
        with Progress(console=Console(stderr=True), disable=json or no_progress, transient=True) as progress:
            task = progress.add_task("re-encrypting", total=None)
            result = keys.keys_reencrypt(
                batch_size=batch_size,
                limit=limit,
                on_batch=lambda column, moved: progress.advance(task, moved),
            )
        summary = {
            "kid": result.kid,
            "moved": result.moved,
            "finished": result.finished,
            "columns": result.columns,
        }
        if json:
            self.stdout.write(_json(summary))
        else:
            self.stdout.write(f"{result.moved} value(s) moved to {result.kid}")
        if not result.finished:
            raise cli.CheckFailed(
                "stopped_at_limit", "stopped at --limit before the end; run it again to go on"
            )

    def _list(self, *, json: bool, **options) -> None:
        infos = keys.key_list()
        if json:
            self.stdout.write(_json([info.__dict__ for info in infos]))
            return
        for info in infos:
            state = "active " if info.active else "retired"
            self.stdout.write(f"{info.kid}  {state}  {info.values} value(s)  created {info.created_at}")
        if not infos:
            self.stdout.write("no data keys yet (the first value sealed creates one)")


def _json(data) -> str:
    return json.dumps(data, default=str, sort_keys=True)
