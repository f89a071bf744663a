"""`manage.py rollout start|status|pause|resume|abort|close|run|override` (control/rollout/cli.py), on the
command-line convention (contracts/cli): exit 0 done, 1 a check said no (gates refused the start), 2 bad
usage or an unusable environment, with one line `rollout <command>: <code>: <message>` on stderr (and one
line per failed gate after it)."""

import sys

from django.core.management.base import BaseCommand

from contracts import cli as convention
from control.rollout import cli


class Command(convention.ToolkitCommand, BaseCommand):
    help = "Guarded rollouts: start, status, pause, resume, abort, close, run (the controller), override."
    hints = convention.Hints(
        migrate="manage.py migrate --database control", database_setting="CONTROL_DATABASE_URL"
    )

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        code = cli.run(options, out=self.stdout)
        if code:
            sys.exit(code)
