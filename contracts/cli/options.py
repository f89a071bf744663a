"""The option names and value types every command shares, and one-line usage errors.

Same thing, same name: `--json` (the result as JSON on stdout), `--once` (do what is pending, then stop;
bounded by `--timeout`), `--interval` (seconds between passes or polls), `--since` (ISO 8601 or a
duration back: 30m, 6h, 2d, 1w), `--no-progress` (no live display). Old spellings stay as deprecated
aliases that still work and say so on stderr.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .errors import EXIT_USAGE, EnvironmentUnusable, UsageError

DEFAULT_ONCE_TIMEOUT = 60.0

# --- value types (argparse `type=`): a bad value is a usage error, exit 2 ---------------------------


def _number(raw: str, kind: type, minimum: float, rule: str):
    try:
        value = kind(raw)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"{raw!r} is not {noun}") from None
    if value != value or value < minimum:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be {rule}, not {raw}")
    return value


def positive_int(raw: str) -> int:
    """A whole number, one or more."""
    return _number(raw, int, 1, "at least 1")


def count(raw: str) -> int:
    """A whole number, zero or more."""
    return _number(raw, int, 0, "zero or more")


def non_negative_float(raw: str) -> float:
    """Seconds, a threshold: a number, zero or more."""
    value = _number(raw, float, 0, "zero or more")
    if value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {raw}")
    return value


def positive_float(raw: str) -> float:
    value = non_negative_float(raw)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def port(raw: str) -> int:
    """A TCP port, 1..65535 (0 is refused: a command's port is one an operator scrapes or connects to)."""
    value = _number(raw, int, 1, "a port from 1 to 65535")
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, not {raw}")
    return value


_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | None, *, now: datetime | None = None) -> datetime | None:
    """`--since`: an ISO 8601 time (UTC when it names no zone) or a duration back from now (30m, 6h, 2d)."""
    if not text:
        return None
    match = _DURATION.fullmatch(text.strip())
    if match:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--since {text!r}: give an ISO 8601 time or a duration like 30m, 6h, 2d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def since(raw: str) -> str:
    """argparse type of `--since`: checks the text now, keeps it (the command resolves it when it runs)."""
    try:
        parse_since(raw)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(exc.message.split(": ", 1)[1]) from None
    return raw


# --- the shared options -------------------------------------------------------------------------------


class _DeprecatedAlias(argparse.Action):
    """Stores like `store` (or `store_const` with nargs=0) and warns once when an old spelling is used."""

    def __init__(self, option_strings, dest, deprecated: Iterable[str] = (), **kwargs):
        self.deprecated = frozenset(deprecated)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if option_string in self.deprecated:
            current = next(s for s in self.option_strings if s not in self.deprecated)
            sys.stderr.write(f"{parser.prog}: warning: {option_string} is deprecated, use {current}\n")
        setattr(namespace, self.dest, self.const if self.nargs == 0 else values)


def add_option(
    parser: argparse.ArgumentParser, name: str, *, deprecated: Iterable[str] = (), **kwargs
) -> argparse.Action:
    """`parser.add_argument(name, *deprecated, ...)` where the deprecated spellings warn when used."""
    deprecated = tuple(deprecated)
    if not deprecated:
        return parser.add_argument(name, **kwargs)
    if kwargs.pop("action", None) == "store_true":
        kwargs.update(nargs=0, const=True, default=kwargs.get("default", False))
    return parser.add_argument(name, *deprecated, action=_DeprecatedAlias, deprecated=deprecated, **kwargs)


def add_json(parser: argparse.ArgumentParser, help_text: str = "print the result as JSON") -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def add_no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress display (logs, CI)")


def add_once(
    parser: argparse.ArgumentParser,
    help_text: str = "do what is pending, then stop",
    *,
    timeout: float = DEFAULT_ONCE_TIMEOUT,
) -> None:
    """`--once` and the `--timeout` that bounds it (exit 2 `timed_out` when it is reached)."""
    parser.add_argument("--once", action="store_true", help=help_text)
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=timeout,
        help=f"--once gives up after this many seconds, e.g. while the broker is down (default {timeout:g})",
    )


def add_interval(
    parser: argparse.ArgumentParser, default: float, help_text: str, *, deprecated: Iterable[str] = ()
) -> None:
    add_option(
        parser,
        "--interval",
        deprecated=deprecated,
        type=positive_float,
        default=default,
        help=f"{help_text} (default {default:g})",
    )


def add_since(parser: argparse.ArgumentParser, help_text: str = "only what happened since") -> None:
    parser.add_argument(
        "--since", type=since, default=None, help=f"{help_text}: ISO 8601 time or 30m, 6h, 2d, 1w"
    )


class Deadline:
    """The time left to a `--once` run; `check()` raises `timed_out` (exit 2) once it has passed."""

    def __init__(self, seconds: float | None, what: str = "--once") -> None:
        self.seconds = seconds
        self.what = what
        self._end = None if seconds is None else time.monotonic() + seconds

    def remaining(self) -> float | None:
        return None if self._end is None else max(0.0, self._end - time.monotonic())

    @property
    def expired(self) -> bool:
        return self._end is not None and time.monotonic() >= self._end

    def check(self, doing: str = "") -> None:
        if self.expired:
            raise EnvironmentUnusable(
                "timed_out",
                f"{self.what} gave up after {self.seconds:g} s" + (f" {doing}" if doing else ""),
            )


# --- one-line usage errors ------------------------------------------------------------------------


def _one_line_error(parser: argparse.ArgumentParser, strip_prefix: str = ""):
    original = parser.error

    def error(message: str):
        if getattr(parser, "called_from_command_line", True) is False:
            try:  # Django's call_command: it raises CommandError itself; bad usage is exit code 2
                return original(message)
            except Exception as exc:
                if hasattr(exc, "returncode"):
                    exc.returncode = EXIT_USAGE
                raise
        prog = parser.prog.removeprefix(strip_prefix)
        parser.exit(EXIT_USAGE, f"{prog}: invalid_usage: {message} (see --help)\n")

    return error


def one_line_usage_errors(parser: argparse.ArgumentParser, strip_prefix: str = "") -> argparse.ArgumentParser:
    """Make parser and all its subparsers print `<prog>: invalid_usage: <what> (see --help)` and exit 2,
    instead of argparse's usage block (`strip_prefix`, e.g. "manage.py ", is left out of <prog>, as in
    every other failure line). Returns parser."""
    parser.error = _one_line_error(parser, strip_prefix)  # type: ignore[method-assign]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                one_line_usage_errors(sub, strip_prefix)
    return parser


class ArgumentParser(argparse.ArgumentParser):
    """argparse for the commands that run without Django (`python -m flags`, `python -m strangler_proxy`);
    `error_prog` is what the one-line errors start with (default: prog)."""

    def __init__(self, *args, error_prog: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.error_prog = error_prog

    def error(self, message: str):
        prog = self.error_prog or self.prog
        self.exit(EXIT_USAGE, f"{prog}: invalid_usage: {message} (see --help)\n")
