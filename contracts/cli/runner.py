"""Running a command under the convention: any failure the user can fix becomes one line on stderr and
its exit code; a bug keeps its traceback. `--traceback` (Django's flag) or STRANGLER_TRACEBACK=1 shows
the traceback of every failure.

- `guard(prog)`: a context manager for entry points (manage.py, `python -m <service>`, `python -m flags`);
- `ToolkitCommand`: a mixin for Django management commands, `class Command(ToolkitCommand, BaseCommand)`;
  it also makes argparse's errors one line. It imports nothing of Django (it only calls `super()`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

from .errors import Failure, Hints, failure_for
from .options import one_line_usage_errors

_entry_hints = Hints()


def set_entry_hints(hints: Hints) -> None:
    """Called once by an entry point (manage.py, a service's `python -m`), so every command's failures
    name the right migrate command and database setting."""
    global _entry_hints
    _entry_hints = hints


def traceback_wanted(argv: Sequence[str] | None = None) -> bool:
    argv = sys.argv if argv is None else argv
    return "--traceback" in argv or os.environ.get("STRANGLER_TRACEBACK", "") in ("1", "true", "yes")


@contextmanager
def guard(
    prog: str,
    *,
    hints: Hints | None = None,
    stderr: TextIO | None = None,
    traceback: bool | None = None,
) -> Iterator[None]:
    """Turn a failure the user can fix into `prog: code: message` on stderr and SystemExit(code)."""
    try:
        yield
    except SystemExit:
        raise
    except BaseException as exc:
        if traceback if traceback is not None else traceback_wanted():
            raise
        if "SystemCheckError" in {cls.__name__ for cls in type(exc).__mro__}:
            raise  # Django formats its system check report itself
        failure = failure_for(exc, hints or _entry_hints)
        if failure is None:
            raise
        report(failure, prog, stderr)
        raise SystemExit(failure.exit_code) from None


def report(failure: Failure, prog: str, stderr: TextIO | None = None) -> None:
    lines = failure.lines(prog)
    if lines:
        stream = stderr or sys.stderr
        stream.write("".join(line + "\n" for line in lines))
        stream.flush()


def run_main(prog: str, main: Callable[[], int | None], *, hints: Hints | None = None) -> int:
    """For `python -m ...` entry points: main()'s exit code, or the failure's."""
    try:
        with guard(prog, hints=hints):
            return int(main() or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


class ToolkitCommand:
    """Mixin for a Django management command that follows the command-line convention.

    From the command line, a failure becomes one line `<command> [<subcommand>...]: <code>: <message>` with
    exit code 2 (1 for a CheckFailed), argparse errors become one line too, and Django's CommandError
    exits 2. Called through `call_command` (tests), exceptions propagate unchanged.
    """

    hints: Hints | None = None

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)  # type: ignore[misc]
        self._command_name = subcommand
        self._subcommand_dests = _subcommand_dests(parser)
        return one_line_usage_errors(parser, strip_prefix=os.path.basename(prog_name) + " ")

    def error_prog(self, options: dict[str, Any]) -> str:
        """`sync products backfill`: the command and the subcommands the user chose."""
        words = [getattr(self, "_command_name", type(self).__module__.rsplit(".", 1)[-1])]
        words += [str(options[d]) for d in getattr(self, "_subcommand_dests", ()) if options.get(d)]
        return " ".join(words)

    def execute(self, *args: Any, **options: Any):
        if not getattr(self, "_called_from_command_line", False):
            return super().execute(*args, **options)  # type: ignore[misc]
        with guard(self.error_prog(options), hints=self.hints, traceback=bool(options.get("traceback"))):
            return super().execute(*args, **options)  # type: ignore[misc]


def _subcommand_dests(parser: argparse.ArgumentParser) -> list[str]:
    dests: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            dests.append(action.dest)
            for sub in action.choices.values():
                dests += [d for d in _subcommand_dests(sub) if d not in dests]
    return dests
