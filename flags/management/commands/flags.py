"""`manage.py flags ...`: the flags command line (flags/cli.py) as a Django management command."""

from django.core.management.base import BaseCommand, CommandError

from contracts.cli import ToolkitCommand
from flags import CLI_EXAMPLES, cli
from flags.errors import FlagsError


class Command(ToolkitCommand, BaseCommand):
    help = (
        "Feature flags of the strangler migration: list, show, on, off, rollout, create, delete, kill, "
        "export, import, audit."
    )
    cli_examples = CLI_EXAMPLES  # (flags/__init__.py) how tests/test_commands_convention.py drives it

    def add_arguments(self, parser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            cli.run(options, out=self.stdout)
        except FlagsError as exc:
            raise CommandError(exc.message) from exc  # printed as `flags <command>: <code>: ...`
