"""The project commands a runbook may run, and what `runbook lint` knows of them.

A step's command is written as a user types it: `manage.py <command> ...` (the monolith's management
commands, which hold the toolkit's: flags, sync, shadow, rollout, traffic, migration, ...) or
`python -m extracted.<service> <command> ...` (a service's own). It runs as a child process with this
interpreter, from the repository, in the runbook's environment: exactly what the user would run.

Lint parses each `manage.py` command with the command's own parser (nothing runs) and collects what it
names (routes, flags, sync entities); a service's command is checked to exist with its `help`."""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from control.errors import ControlError

REPO_DIR = Path(__file__).resolve().parent.parent.parent
SERVICE_PREFIX = "extracted."

# Commands that only read: a step running one of these needs no rollback.
READ_ONLY = {
    ("flags", "list"),
    ("flags", "show"),
    ("flags", "export"),
    ("flags", "audit"),
    ("rollout", "status"),
    ("shadow", "status"),
    ("shadow", "report"),
    ("shadow", "gate"),
    ("migration", "status"),
    ("runbook", "list"),
    ("runbook", "show"),
    ("runbook", "lint"),
    ("sagas", "list"),
    ("sagas", "stuck"),
}
READ_ONLY_SYNC_ACTIONS = {"status", "verify"}


@dataclass
class Parsed:
    """What lint learnt of one command: the words it starts with, what it names, whether it changes."""

    name: str  # the management command (`flags`) or `extracted.<service> <command>`
    sub: str | None = None
    routes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    created_flags: list[str] = field(default_factory=list)
    changes: bool = True


def process_argv(argv: list[str]) -> list[str]:
    """The child process's argv for a command as written; ControlError when it is not a project command."""
    if argv and argv[0] == "manage.py":
        return [sys.executable, str(REPO_DIR / "manage.py"), *argv[1:]]
    if len(argv) >= 3 and argv[0] == "python" and argv[1] == "-m" and argv[2].startswith(SERVICE_PREFIX):
        return [sys.executable, "-m", *argv[2:]]
    raise ControlError(
        "not_a_project_command",
        f"`{' '.join(argv)}` is not a project command (manage.py ... or python -m extracted.<service> ...)",
    )


def run_command(argv: list[str], *, timeout: float, env: dict[str, str] | None = None):
    """Run a command as written; (exit code, stdout, stderr). A timeout is exit 124, as timeout(1)."""
    try:
        done = subprocess.run(  # noqa: S603 (a project command, resolved by process_argv)
            process_argv(argv),
            cwd=REPO_DIR,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return 124, out, f"timed out after {timeout:g} s"
    return done.returncode, done.stdout, done.stderr


def _values(namespace: argparse.Namespace, *names: str) -> list[str]:
    found: list[str] = []
    for name in names:
        value = getattr(namespace, name, None)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list | tuple):
            found.extend(str(v) for v in value)
    return found


def parse_manage(argv: list[str]) -> Parsed:
    """Parse `manage.py NAME ARGS...` with the command's own parser; ControlError naming what is wrong."""
    from django.core.management import CommandError, get_commands, load_command_class

    from contracts.errors import ApplicationError

    if len(argv) < 2:
        raise ControlError("bad_command", "manage.py needs a command")
    name, args = argv[1], argv[2:]
    commands = get_commands()
    if name not in commands:
        raise ControlError("unknown_command", f"manage.py has no command {name!r}")
    command = load_command_class(commands[name], name)
    parser = command.create_parser("manage.py", name)
    try:
        namespace = parser.parse_args(args)
    except (CommandError, SystemExit, ApplicationError) as exc:
        raise ControlError("bad_arguments", f"`{' '.join(argv)}` does not parse: {exc}") from None
    sub = getattr(namespace, "command", None) or getattr(namespace, "action", None)
    parsed = Parsed(name=name, sub=sub if isinstance(sub, str) else None)
    if name == "flags":
        names = _values(namespace, "name")
        (parsed.created_flags if sub == "create" else parsed.flags).extend(names)
        if sub == "create":
            parsed.routes.extend(_values(namespace, "from_route"))
    parsed.routes.extend(r for r in _values(namespace, "route", "routes") if r != "*")
    if name == "sync":
        parsed.changes = sub not in READ_ONLY_SYNC_ACTIONS or bool(getattr(namespace, "repair", False))
    else:
        parsed.changes = (name, parsed.sub) not in READ_ONLY
    return parsed


@functools.cache
def service_commands(module: str) -> frozenset[str]:
    """The management commands a service answers (its `help` lists them), asked once per lint."""
    code, out, err = run_command(["python", "-m", module, "help", "--commands"], timeout=120)
    if code != 0:
        raise ControlError("service_unavailable", f"`python -m {module} help` failed: {err.strip()[-300:]}")
    return frozenset(line.strip() for line in out.splitlines() if line.strip())


def parse_service(argv: list[str]) -> Parsed:
    module = argv[2]
    if len(argv) < 4:
        raise ControlError("bad_command", f"python -m {module} needs a command")
    if module.count(".") != 1 or not (REPO_DIR / module.replace(".", "/")).is_dir():
        raise ControlError("unknown_service", f"no service {module!r}")
    if argv[3] not in service_commands(module):
        raise ControlError("unknown_command", f"python -m {module} has no command {argv[3]!r}")
    return Parsed(name=f"{module} {argv[3]}", changes=argv[3] not in {"check", "showmigrations"})


def parse_command(argv: list[str]) -> Parsed:
    process_argv(argv)  # a project command at all
    if argv[0] == "manage.py":
        return parse_manage(argv)
    return parse_service(argv)
