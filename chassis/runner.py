"""`python -m extracted.<svc> <django command>`: each service's __main__.py calls `main(settings_module)`.

Besides Django's own commands (migrate, runserver, ...), the chassis adds `serve` (gunicorn),
`relay_outbox` and `consume`. A failure the user can fix is one line on stderr and exit code 2
(contracts/cli), naming the service's own migrate command and database setting.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from contracts import cli


def entry_hints(settings_module: str) -> tuple[str, cli.Hints]:
    """For extracted.product_service.settings: `python -m extracted.product_service`, PRODUCT_DATABASE_URL."""
    package = settings_module.rsplit(".", 1)[0]
    service = package.rsplit(".", 1)[-1]
    program = f"python -m {package}"
    setting = f"{service.removesuffix('_service').upper()}_DATABASE_URL"
    return program, cli.Hints(migrate=f"{program} migrate", database_setting=setting)


def main(settings_module: str, argv: Sequence[str] | None = None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    from django.core.management import execute_from_command_line

    program, hints = entry_hints(settings_module)
    cli.set_entry_hints(hints)
    argv = list(sys.argv if argv is None else argv)
    with cli.guard(program.removeprefix("python -m ")):
        refuse_unknown_command(program, argv)
        execute_from_command_line([program, *argv[1:]])


def refuse_unknown_command(program: str, argv: Sequence[str]) -> None:
    """An unknown command is bad usage: one line and exit 2 (Django's own answer is two lines and exit 1).
    A chassis command asked of the monolith (`manage.py serve`) is told where it runs instead."""
    name = argv[1] if len(argv) > 1 else ""
    if (
        not name
        or name.startswith("-")
        or name in ("help", "version")
        or "DJANGO_AUTO_COMPLETE" in os.environ
    ):
        return
    import django
    from django.core.management import find_commands, get_commands

    django.setup()
    if name in get_commands():
        return
    if name in find_commands(os.path.join(os.path.dirname(__file__), "management")):
        raise cli.UsageError(
            f"{name!r} is a command of the extracted services (python -m extracted.<service> {name}), not of "
            "the monolith; the monolith is served by gunicorn: `make monolith`",
            code="unknown_command",
        )
    raise cli.UsageError(f"unknown command {name!r} (see `{program} help`)", code="unknown_command")
