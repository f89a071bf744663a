"""`manage.py decommission status|plan|apply|finalize|restore` (control/decommission/cli.py), on the
command-line convention (contracts/cli): exit 0 done, 1 a check said no (not decommissionable, an archive
that does not match its checksum), 2 bad usage or an unusable environment, with one line
`decommission <command>: <code>: <message>` on stderr (and one line per reason after it)."""

from control.commandline import ControlCommand
from control.decommission import cli


class Command(ControlCommand):
    help = (
        "Retire the monolith route by route: status (requests still reaching the monolith over a window, "
        "sync, dependants), plan, apply (legacy none, 410 Gone, sync stopped, tables archived), finalize "
        "(drop the tables) and restore (roll an apply back)."
    )
    cli = cli
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["finalize", "catalog.read"], "bad_argument": ["status", "--window", "soon"]}
