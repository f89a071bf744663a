"""The command-line convention every toolkit command follows (CONVENTIONS.md, "Command-line tools"):
exit codes, one-line errors, shared option names and value types, and pre-checks of the environment.

    from contracts import cli

    class Command(cli.ToolkitCommand, BaseCommand):        # a Django management command
        def add_arguments(self, parser):
            cli.add_json(parser)
            cli.add_once(parser)                            # --once, bounded by --timeout
            cli.add_interval(parser, 1.0, "seconds between polls", deprecated=["--poll-interval"])
        def handle(self, *args, **options):
            cli.check_port_free("0.0.0.0", options["metrics_port"], "--metrics-port")
            ...
            raise cli.UsageError("--limit must be zero or more")            # one line, exit 2
            raise cli.CheckFailed("differences_found", "3 products differ")  # one line, exit 1

Pure Python: no Django, no kombu at import time (errors are recognised by class name).
"""

from .checks import check_broker, check_port_free, port_in_use, redact_url
from .errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CheckFailed,
    CommandFailure,
    EnvironmentUnusable,
    Failure,
    Hints,
    UsageError,
    exit_code_for,
    failure_for,
    one_line,
)
from .options import (
    DEFAULT_ONCE_TIMEOUT,
    ArgumentParser,
    Deadline,
    add_interval,
    add_json,
    add_no_progress,
    add_once,
    add_option,
    add_since,
    count,
    non_negative_float,
    one_line_usage_errors,
    parse_since,
    port,
    positive_float,
    positive_int,
    since,
)
from .runner import ToolkitCommand, guard, report, run_main, set_entry_hints, traceback_wanted

__all__ = [
    "DEFAULT_ONCE_TIMEOUT",
    "EXIT_CHECK_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "ArgumentParser",
    "CheckFailed",
    "CommandFailure",
    "Deadline",
    "EnvironmentUnusable",
    "Failure",
    "Hints",
    "ToolkitCommand",
    "UsageError",
    "add_interval",
    "add_json",
    "add_no_progress",
    "add_once",
    "add_option",
    "add_since",
    "check_broker",
    "check_port_free",
    "count",
    "exit_code_for",
    "failure_for",
    "guard",
    "non_negative_float",
    "one_line",
    "one_line_usage_errors",
    "parse_since",
    "port",
    "port_in_use",
    "positive_float",
    "positive_int",
    "redact_url",
    "report",
    "run_main",
    "set_entry_hints",
    "since",
    "traceback_wanted",
]
