"""`manage.py shadow worker|report|status|gate`: the shadow comparator's command line (shadow/cli.py)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from contracts.cli import ToolkitCommand
from shadow import cli
from shadow.errors import ShadowError


class Command(ToolkitCommand, BaseCommand):
    help = "Shadow comparator: worker (consume and compare pairs), report, status, gate (exit 0 = promote)."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {
        "database": ["status"],
        "broker": ["worker", "--once", "--timeout", "5", "--no-progress"],
        "port": ["worker", "--metrics-port", "{port}", "--once", "--timeout", "5", "--no-progress"],
        "bad_argument": [["report", "--since", "yesterday"], ["gate", "r", "--min-match", "99"]],
    }

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            code = cli.run(options, out=self.stdout)
        except ShadowError as exc:
            raise CommandError(exc.message, returncode=cli.EXIT_ERROR) from exc
        except KeyboardInterrupt:  # the worker has closed its reader: handled pairs are acknowledged
            sys.exit(130)
        except DatabaseError as exc:
            message = f"the shadow database is unusable ({exc}); run `manage.py migrate --database shadow`"
            raise CommandError(message.replace("\n", " "), returncode=cli.EXIT_ERROR) from exc
        if code:
            sys.exit(code)
