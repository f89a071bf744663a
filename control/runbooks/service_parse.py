"""`python -m control.runbooks.service_parse extracted.<service>`: parse command lines with the service's own
command parsers, for `runbook lint`. A service's commands need its own settings (its apps, its models), so
they cannot be loaded in the monolith's process: lint starts this once per service, with every command line
of the runbooks that service runs as a JSON list on stdin (`["events", "dlq", "list", "--json"]`, ...).

Nothing runs: each line is only parsed. Printed: one JSON list, per line either
`{"words": ["events", "dlq", "list"], "dry_run": false}` (the command and the sub-commands it chose) or
`{"error": "unknown_command" | "bad_arguments", "message": "..."}`."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

SUBCOMMAND_DESTS = ("area", "action", "command")


def parse_line(program: str, argv: list[str]) -> dict[str, Any]:
    from django.core.management import CommandError, get_commands, load_command_class

    from contracts.errors import ApplicationError

    if not argv:
        return {"error": "bad_command", "message": f"{program} needs a command"}
    name, args = argv[0], argv[1:]
    commands = get_commands()
    if name not in commands:
        return {"error": "unknown_command", "message": f"{program} has no command {name!r}"}
    parser = load_command_class(commands[name], name).create_parser(program, name)
    try:
        namespace = parser.parse_args(args)
    except (CommandError, SystemExit, ApplicationError) as exc:
        text = " ".join([program, *argv])
        return {"error": "bad_arguments", "message": f"`{text}` does not parse: {exc}"}
    words = [name] + [w for d in SUBCOMMAND_DESTS if isinstance(w := getattr(namespace, d, None), str)]
    return {"words": words, "dry_run": bool(getattr(namespace, "dry_run", False))}


def main() -> int:
    module = sys.argv[1]
    os.environ["DJANGO_SETTINGS_MODULE"] = f"{module}.settings"
    import django

    django.setup()
    program = f"python -m {module}"
    lines = json.load(sys.stdin)
    print(json.dumps([parse_line(program, [str(a) for a in argv]) for argv in lines]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
