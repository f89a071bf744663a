"""`manage.py rollout start|status|pause|resume|abort|close|run|override` (control/rollout/cli.py)."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from control.errors import ControlError
from control.rollout import cli
from flags.errors import FlagsError


class Command(BaseCommand):
    help = "Guarded rollouts: start, status, pause, resume, abort, close, run (the controller), override."

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            code = cli.run(options, out=self.stdout)
        except (ControlError, FlagsError) as exc:
            raise CommandError(" ".join(exc.message.split("\n")), returncode=cli.EXIT_ERROR) from exc
        except DatabaseError as exc:
            message = f"the control database is unusable ({exc}); run `manage.py migrate --database control`"
            raise CommandError(" ".join(message.split()), returncode=cli.EXIT_ERROR) from exc
        if code:
            sys.exit(code)
