"""`manage.py migration status [--json] [--watch]` (control/cockpit/cli.py): the whole migration, one table
per stage; each area that cannot be read says so in its place (exit 0: it reports, it judges nothing)."""

from control.cockpit import cli
from control.commandline import ControlCommand


class Command(ControlCommand):
    help = "The whole migration, stage by stage: flags, gateway split, errors, shadow, sync, sagas, rollouts."
    cli = cli
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"bad_argument": ["status", "--interval", "-1"]}
