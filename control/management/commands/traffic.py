"""`manage.py traffic record|replay` (control/traffic/cli.py), on the command-line convention
(contracts/cli): exit 0 done, 1 the replay's comparison found real differences, 2 bad usage or an unusable
environment, with one line `traffic <command>: <code>: <message>` on stderr."""

from control.commandline import ControlCommand
from control.traffic import cli


class Command(ControlCommand):
    help = (
        "Traffic record and replay: record routes' traffic at the gateway into a flow file (mitmproxy's "
        "format); replay it against a candidate upstream, --compare through the shadow comparator."
    )
    cli = cli
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"bad_argument": ["record", "catalog.read", "--for", "soon", "-o", "x.flows"]}
