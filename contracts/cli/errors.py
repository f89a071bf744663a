"""Exit codes, the command-line error types, and how any failure becomes one line on stderr.

The contract between a command and the scripts that run it (CONVENTIONS.md, "Command-line tools"):
0 done, 1 a check failed (verify found differences, a gate refused), 2 bad usage or an unusable
environment (database, broker, port, setting), with one line `<command>: <code>: <message>` on stderr.

Failures raised by libraries (a database that refuses the connection, a broker that is down, a port in
use) are recognised by their class names along the exception chain, so this module imports neither
Django nor kombu nor a database driver.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass
from typing import Any

from contracts.errors import ApplicationError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2  # bad usage, or an environment the command cannot use
EXIT_INTERRUPTED = 130


class CommandFailure(ApplicationError):
    """A command-line failure: `code`, a one-line `message`, and the `exit_code` it ends the command with.

    Any ApplicationError may also carry `detail_lines` (a sequence of strings): then its message's first
    line is printed, followed by one line per detail (e.g. each failed gate of a refused flag raise)."""

    exit_code = EXIT_USAGE

    def __init__(self, code: str, message: str, *, extra: dict[str, Any] | None = None):
        super().__init__(code, message, extra=extra)

    def __str__(self) -> str:
        return self.message


class EnvironmentUnusable(CommandFailure):
    """Something the command needs is not there: a database, a broker, a queue, a free port, a setting."""


class UsageError(CommandFailure):
    """The command line is wrong (an option's value, a combination): exit 2, code `invalid_option`."""

    def __init__(self, message: str, *, code: str = "invalid_option", extra: dict[str, Any] | None = None):
        super().__init__(code, message, extra=extra)


class CheckFailed(CommandFailure):
    """The command ran and its check said no (a gate, a verify, an audit chain): exit 1."""

    exit_code = EXIT_CHECK_FAILED


@dataclass(frozen=True, slots=True)
class Failure:
    """What the user sees: `<prog>: <code>: <message>` and the exit code (no line when message is empty).

    `details`: items of a failure that names several things (each failed gate of a refused raise), printed
    after it one line each, in the same `<prog>: <code>: <detail>` form."""

    code: str
    message: str
    exit_code: int
    details: tuple[str, ...] = ()

    def line(self, prog: str) -> str:
        return f"{prog}: {self.code}: {one_line(self.message)}" if self.message else ""

    def lines(self, prog: str) -> list[str]:
        first = self.line(prog)
        return ([first] if first else []) + [f"{prog}: {self.code}: {one_line(d)}" for d in self.details]


def one_line(text: str) -> str:
    """Collapse a multi-line message (a file's problems, a driver's detail) into one line."""
    parts = [part.strip() for part in str(text).splitlines() if part.strip()]
    joined = parts[0] if len(parts) == 1 else "; ".join(parts)
    return joined.replace(":;", ":")


def exit_code_for(exc: BaseException) -> int:
    """2 for every toolkit error unless its class says otherwise (CheckFailed and its kin say 1)."""
    return int(getattr(exc, "exit_code", EXIT_USAGE))


def _names(exc: BaseException) -> set[str]:
    """`module.Class` of every class of exc, e.g. {'django.db.utils.OperationalError', ...}."""
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    return seen


_DB_CLASSES = re.compile(
    r"^(django\.db\.utils|psycopg2?(\.errors)?|psycopg2\.extensions|sqlite3)\."
    r"(OperationalError|ProgrammingError|InterfaceError|DatabaseError|UndefinedTable|UndefinedColumn)$"
)
_NOT_MIGRATED = re.compile(
    r"no such table|no such column|relation \"[^\"]+\" does not exist|column \"[^\"]+\" .*does not exist",
    re.IGNORECASE,
)
_NO_DATABASE = re.compile(r"database \"([^\"]+)\" does not exist", re.IGNORECASE)
_UNREACHABLE = re.compile(
    r"connect|connection|unable to open database file|timeout|timed out|could not translate host|"
    r"authentication failed|no password supplied|role \"[^\"]+\" does not exist|too many clients|"
    r"the database system is|server closed|disk I/O error|readonly database",
    re.IGNORECASE,
)
_BROKER_CLASSES = re.compile(r"^(kombu\.exceptions|amqp\.exceptions)\.")
_REDIS_CLASSES = re.compile(r"^redis\.exceptions\.(ConnectionError|TimeoutError)$")


@dataclass(frozen=True, slots=True)
class Hints:
    """What to tell the user to run; each entry point knows its own spelling."""

    migrate: str = "manage.py migrate"
    database_setting: str = "DATABASE_URL"
    # tables that live in another database of the same entry point: table prefix -> database alias
    table_databases: tuple[tuple[str, str], ...] = (("shadow_", "shadow"), ("control_", "control"))


def failure_for(exc: BaseException, hints: Hints | None = None) -> Failure | None:
    """The one-line failure for exc, or None when exc is a bug (the caller lets its traceback show)."""
    hints = hints or Hints()
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", "", EXIT_INTERRUPTED)
    chain = _chain(exc)
    for link in chain:  # a toolkit error, even wrapped in Django's CommandError, keeps its code
        if isinstance(link, ApplicationError):
            details = tuple(getattr(link, "detail_lines", ()) or ())
            message = link.message.splitlines()[0] if details and link.message else link.message
            return Failure(link.code, message, exit_code_for(link), details)
    for link in chain:
        failure = _library_failure(link, hints)
        if failure is not None:
            return failure
    if "django.core.management.base.CommandError" in _names(exc):
        returncode = getattr(exc, "returncode", 1)
        return Failure("invalid_usage", str(exc), EXIT_USAGE if returncode == 1 else returncode)
    return None


def _library_failure(exc: BaseException, hints: Hints) -> Failure | None:
    names = _names(exc)
    text = one_line(str(exc)) or type(exc).__name__
    if any(_DB_CLASSES.match(name) for name in names):
        return _database_failure(text, hints)
    if "django.core.exceptions.ImproperlyConfigured" in names:
        return Failure("improperly_configured", text, EXIT_USAGE)
    if "dj_database_url.UnknownSchemeError" in names:
        return Failure(
            "invalid_setting",
            f"{hints.database_setting}: {text.split('.')[0]} (expected postgres://… or sqlite:///…)",
            EXIT_USAGE,
        )
    if any(_BROKER_CLASSES.match(name) for name in names):
        if "NOT_FOUND" in text and "queue" in text:
            return Failure("queue_not_found", f"{text} (start its consumer once to declare it)", EXIT_USAGE)
        return Failure("broker_unavailable", f"the broker is unreachable: {text} (check BROKER_URL)", 2)
    if any(_REDIS_CLASSES.match(name) for name in names):
        return Failure("redis_unavailable", f"Redis is unreachable: {text} (check REDIS_URL)", EXIT_USAGE)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return Failure("port_in_use", f"a port this command listens on is in use: {text}", EXIT_USAGE)
    return None


def _database_failure(text: str, hints: Hints) -> Failure | None:
    if _NOT_MIGRATED.search(text):
        migrate = hints.migrate
        for prefix, alias in hints.table_databases:
            if re.search(rf"\b{prefix}\w+", text) and "--database" not in migrate:
                migrate = f"{migrate} --database {alias}"
                break
        return Failure("database_not_migrated", f"{text}: the database is not migrated; run `{migrate}`", 2)
    missing = _NO_DATABASE.search(text)
    if missing:
        return Failure(
            "database_not_found",
            f"database {missing[1]!r} does not exist: create it, or point {hints.database_setting} "
            "at one that does",
            EXIT_USAGE,
        )
    if "database is locked" in text:
        return Failure("database_busy", f"{text}: another process holds the SQLite file; retry", 2)
    if not _UNREACHABLE.search(text):
        return None  # a bad query is a bug, not the environment: its traceback shows
    return Failure(
        "database_unavailable",
        f"cannot use the database: {text} (check {hints.database_setting} and that the server is running)",
        EXIT_USAGE,
    )
