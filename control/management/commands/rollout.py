"""`manage.py rollout start|status|pause|resume|abort|close|run|override` (control/rollout/cli.py), on the
command-line convention (contracts/cli): exit 0 done, 1 a check said no (gates refused the start), 2 bad
usage or an unusable environment, with one line `rollout <command>: <code>: <message>` on stderr (and one
line per failed gate after it)."""

from control.commandline import ControlCommand
from control.rollout import cli


class Command(ControlCommand):
    help = "Guarded rollouts: start, status, pause, resume, abort, close, run (the controller), override."
    cli = cli
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {
        "database": ["status"],
        "port": ["run", "--once", "--metrics-port", "{port}"],
        "bad_argument": ["status", "--events", "x"],
    }
