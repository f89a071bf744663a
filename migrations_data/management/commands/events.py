"""`manage.py events keys rotate|list`: the monolith's event-signing keys.

The monolith's outbox relay (migrations_data/outbox/relay.py) signs critical events on the monolith's behalf
with the monolith's own key (source `monolith`, JWKS at /.well-known/event-keys.json on the monolith), as
each service's relay does with its own; this is the same rotation with overlap as
`python -m extracted.<service> events keys ...` (chassis/event_keys_cli.py). The dead-letter console
(`events dlq`) belongs to the services: the monolith runs no event consumers of its own.

    manage.py events keys rotate [--overlap SECONDS] [--json]
    manage.py events keys list [--json]
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from chassis.event_keys_cli import add_keys_parser, run_keys
from contracts import cli


class Command(cli.ToolkitCommand, BaseCommand):
    help = "The monolith's event-signing keys: rotate (with an overlap) and list."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": [["keys", "list"]], "bad_argument": ["keys", "rotate", "--overlap", "-1"]}

    def add_arguments(self, parser) -> None:
        areas = parser.add_subparsers(dest="area", required=True)
        add_keys_parser(areas)

    def handle(self, *args, **options) -> None:
        self.stdout.write(run_keys(options))
