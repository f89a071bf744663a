"""What the control app's commands (`rollout`, `traffic`) share: the management command on the command-line
convention (contracts/cli), and their console and JSON output."""

from __future__ import annotations

import json
import sys
from types import ModuleType
from typing import IO, Any

from django.core.management.base import BaseCommand
from rich.console import Console

from contracts import cli as convention


def console_for(out: IO[str]) -> Console:
    is_tty = hasattr(out, "isatty") and out.isatty()
    return Console(file=out, width=None if is_tty else 160, soft_wrap=not is_tty, highlight=False)


def print_json(out: IO[str], data: Any) -> None:
    out.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


class ControlCommand(convention.ToolkitCommand, BaseCommand):
    """A thin command over a cli module (`add_arguments(parser)`, `run(options, out=...) -> exit code`):
    exit 0 done, 1 a check said no, 2 bad usage or an unusable environment, one line on stderr."""

    cli: ModuleType
    hints = convention.Hints(
        migrate="manage.py migrate --database control", database_setting="CONTROL_DATABASE_URL"
    )

    def add_arguments(self, parser) -> None:
        self.cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        code = self.cli.run(options, out=self.stdout)
        if code:
            sys.exit(code)
