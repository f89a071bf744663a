"""The project commands a runbook may run, and what `runbook lint` knows of them.

A step's command is written as a user types it: `manage.py <command> ...` (the monolith's management
commands, which hold the toolkit's: flags, sync, shadow, rollout, traffic, migration, ...) or
`python -m extracted.<service> <command> ...` (a service's own). It runs as a child process with this
interpreter, from the repository, in the runbook's environment: exactly what the user would run.

Lint parses each `manage.py` command with the command's own parser (nothing runs) and collects what it
names (routes, flags, sync entities). A service's command is parsed the same way, with the service's own
parser under its own settings, in one child process per service (service_parse.py).

A step whose command only reads (a status, a list, a verify without --repair, anything with --dry-run,
`gateway --print-command`) needs no rollback; every other command changes something."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable
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
    ("legacy_sessions", "report"),
    ("decommission", "status"),  # stores a traffic sample in the control database; changes nothing served
    ("decommission", "plan"),
}
READ_ONLY_SYNC_ACTIONS = {"status", "verify"}
# A service's commands that only read, by their words (`events dlq list`): the command and its
# sub-commands.
READ_ONLY_SERVICE = {
    ("check",),
    ("showmigrations",),
    ("events", "dlq", "list"),
    ("events", "dlq", "show"),
    ("sagas", "list"),
    ("sagas", "show"),
    ("auth", "keys", "list"),
    ("auth", "audit", "verify"),
    ("keys", "list"),
    ("payments", "audit", "verify"),
}


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
    if name != "gateway":  # the gateway's --routes is the route table's file, not route ids
        parsed.routes.extend(r for r in _values(namespace, "route", "routes") if r != "*")
    if name == "sync":
        parsed.changes = sub not in READ_ONLY_SYNC_ACTIONS or bool(getattr(namespace, "repair", False))
    elif name == "gateway":
        parsed.changes = not getattr(namespace, "print_command", False)
    else:
        parsed.changes = (name, parsed.sub) not in READ_ONLY
    if getattr(namespace, "dry_run", False) is True:
        parsed.changes = False
    return parsed


# (module, its argv after the module) -> what service_parse.py answered for it; filled per service at once.
_service_parses: dict[tuple[str, ...], dict] = {}


def prime_service_parses(argvs: Iterable[list[str]]) -> None:
    """Parse every `python -m extracted.<service> ...` of `argvs` not parsed yet: one child per service."""
    pending: dict[str, list[list[str]]] = defaultdict(list)
    for argv in argvs:
        known = _is_service(argv) and _known_service(argv[2])
        if known and tuple(argv[2:]) not in _service_parses and argv[3:] not in pending[argv[2]]:
            pending[argv[2]].append(argv[3:])
    for module, lines in pending.items():
        done = subprocess.run(  # noqa: S603 (this interpreter, a module of the project)
            [sys.executable, "-m", "control.runbooks.service_parse", module],
            cwd=REPO_DIR,
            input=json.dumps(lines),
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if done.returncode != 0:  # every line of the service says why, once
            tail = " ".join(done.stderr.split())[-300:]
            failed = {"error": "service_unavailable", "message": f"cannot load {module}'s commands: {tail}"}
            answers = [failed] * len(lines)
        else:
            answers = json.loads(done.stdout)
        for line, answer in zip(lines, answers, strict=True):
            _service_parses[(module, *line)] = answer


def _is_service(argv: list[str]) -> bool:
    return len(argv) >= 3 and argv[:2] == ["python", "-m"] and argv[2].startswith(SERVICE_PREFIX)


def _known_service(module: str) -> bool:
    return module.count(".") == 1 and (REPO_DIR / module.replace(".", "/") / "settings.py").is_file()


def parse_service(argv: list[str]) -> Parsed:
    """Parse `python -m extracted.<service> NAME ARGS...` with the service's own parser; ControlError."""
    module = argv[2]
    if len(argv) < 4:
        raise ControlError("bad_command", f"python -m {module} needs a command")
    if not _known_service(module):
        raise ControlError("unknown_service", f"no service {module!r}")
    prime_service_parses([argv])
    answer = _service_parses[tuple(argv[2:])]
    if "error" in answer:
        raise ControlError(answer["error"], answer["message"])
    words = tuple(answer["words"])
    changes = words not in READ_ONLY_SERVICE and not answer["dry_run"]
    return Parsed(name=f"{module} {words[0]}", sub=" ".join(words[1:]) or None, changes=changes)


def parse_command(argv: list[str]) -> Parsed:
    process_argv(argv)  # a project command at all
    if argv[0] == "manage.py":
        return parse_manage(argv)
    return parse_service(argv)
