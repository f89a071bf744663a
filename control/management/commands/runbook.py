"""`manage.py runbook list|show|run|lint` (control/runbooks/cli.py), on the command-line convention
(contracts/cli): exit 0 done, 1 a check said no (a step's check failed, lint found problems), 2 bad usage
or an unusable environment, 130 interrupted (the run names the step to resume `--from`)."""

from control.commandline import ControlCommand
from control.runbooks import cli


class Command(ControlCommand):
    help = "Executable runbooks (runbooks/*.yaml): list, show, run [--dry-run] [--from STEP] [--yes], lint."
    cli = cli
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"bad_argument": ["run"]}
