#!/usr/bin/env python
"""The TechStore monolith's manage.py; the toolkit's commands are installed here too.

A failure the user can fix (database down or not migrated, a malformed DATABASE_URL, a broker away) is one
line on stderr and exit code 2 (contracts/cli); `--traceback` shows the whole story."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    from django.core.management import execute_from_command_line

    from chassis.runner import refuse_unknown_command
    from contracts import cli

    cli.set_entry_hints(cli.Hints(migrate="manage.py migrate", database_setting="DATABASE_URL"))
    with cli.guard("manage.py"):
        refuse_unknown_command("manage.py", sys.argv)
        execute_from_command_line(sys.argv)
