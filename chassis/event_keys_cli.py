"""`events keys rotate|list`: the event-signing keys of the process that runs it (chassis/event_keys.py).
One parser and one handler for every process that signs critical events: each service's
`python -m extracted.<service> events keys ...` and the monolith's `manage.py events keys ...` (its outbox
relay signs on the monolith's behalf, with the monolith's own keys)."""

from __future__ import annotations

import json

from chassis.event_keys import event_keyring
from contracts import cli


def add_keys_parser(areas) -> None:
    """`keys rotate [--overlap SECONDS] [--json]` and `keys list [--json]` under `areas` (a subparsers)."""
    keys = areas.add_parser("keys", help="the keys this process signs its critical events with")
    key_actions = keys.add_subparsers(dest="action", required=True)
    rotate = key_actions.add_parser("rotate", help="a new active key; the old one verifies for --overlap")
    rotate.add_argument(
        "--overlap",
        type=cli.count,
        default=None,
        help="seconds the old key keeps verifying (default EVENT_KEY_ROTATION_OVERLAP_SECONDS)",
    )
    key_list = key_actions.add_parser("list", help="every key and its state")
    for sub in (rotate, key_list):
        cli.add_json(sub)


def run_keys(options: dict) -> str:
    """Rotate or list, as the parsed options ask; the text to print (JSON with --json)."""
    ring = event_keyring()
    if options["action"] == "rotate":
        result = ring.rotate(overlap_seconds=options["overlap"]).to_dict()
        until = f"; {result['retiring_kid']} verifies until {result['verify_until']}"
        text = f"new active event-signing key {result['new_kid']}" + (until if result["retiring_kid"] else "")
    else:
        result = ring.listing()
        text = (
            "\n".join(
                f"{row['kid']}  {row['state']}"
                + (f" (verifies until {row['verify_until']})" if row["verify_until"] else "")
                for row in result
            )
            or "no event-signing keys yet"
        )
    return json.dumps(result, default=str) if options["json"] else text
