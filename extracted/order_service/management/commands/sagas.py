"""`sagas list [--state S] [--stuck] [--limit N] | show ID | retry ID | compensate ID` (checkout sagas).

`show` prints every transition with its time, cause and trace id. `retry` sends the step in hand again now;
`compensate` undoes a running saga. ID is a saga id or its order's number. Exit codes: 0 done, 1 the saga
is not there or cannot be moved (already finished), 2 bad usage or an unusable database.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from contracts import cli

from ...models import Saga
from ...saga import engine

STATES = [state for state, _ in Saga.State.choices]


def saga_find(ident: str) -> Saga:
    query = Q(order__number=ident)
    if len(ident) == 36:
        query |= Q(pk=ident)
    saga = Saga.objects.select_related("order").filter(query).first()
    if saga is None:
        raise cli.CheckFailed("saga_not_found", f"no saga {ident!r} (a saga id or an order number)")
    return saga


def saga_row(saga: Saga) -> dict:
    return {
        "id": str(saga.pk),
        "order": saga.order.number,
        "state": saga.state,
        "step": saga.step,
        "attempt": saga.attempt,
        "created_at": saga.created_at.isoformat(),
        "step_deadline": saga.step_deadline.isoformat(),
        "deadline": saga.deadline.isoformat(),
        "failure": saga.failure_code,
        "trace_id": saga.trace_id,
    }


def sagas_list(*, state: str | None, stuck: bool, limit: int) -> list[dict]:
    sagas = Saga.objects.select_related("order").order_by("-created_at")
    if state:
        sagas = sagas.filter(state=state)
    if stuck:
        sagas = sagas.filter(
            Q(state__in=["running", "compensating"], deadline__lt=timezone.now()) | Q(state="failed")
        )
    return [saga_row(saga) for saga in sagas[:limit]]


def saga_show(ident: str) -> dict:
    saga = saga_find(ident)
    transitions = [
        {
            "at": t.at.isoformat(),
            "from": t.from_step,
            "to": t.to_step,
            "state": t.state,
            "attempt": t.attempt,
            "cause": t.cause,
            "trace_id": t.trace_id,
        }
        for t in saga.transitions.order_by("id")
    ]
    return {
        **saga_row(saga),
        "context_keys": sorted(saga.context),
        "done": saga.done,
        "transitions": transitions,
    }


class Command(cli.ToolkitCommand, BaseCommand):
    help = "Checkout sagas: list, show (every transition), retry, compensate."
    # How tests/test_commands_convention.py drives this command into each failure (CONVENTIONS.md).
    cli_examples = {"database": ["list"], "bad_argument": ["list", "--limit", "0"]}

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="sagas, newest first")
        listing.add_argument("--state", choices=STATES)
        listing.add_argument("--stuck", action="store_true", help="past their deadline, or stopped")
        listing.add_argument("--limit", type=cli.positive_int, default=50)
        for name, what in (
            ("show", "every transition"),
            ("retry", "send the step in hand again now"),
            ("compensate", "undo a running saga now"),
        ):
            sub = actions.add_parser(name, help=what)
            sub.add_argument("id", help="saga id or order number")
        for sub in actions.choices.values():
            cli.add_json(sub)

    def handle(self, *args, action: str, **options):
        if action == "list":
            result = {
                "sagas": sagas_list(state=options["state"], stuck=options["stuck"], limit=options["limit"])
            }
        elif action == "show":
            result = saga_show(options["id"])
        else:
            saga = saga_find(options["id"])
            if saga.state in engine.TERMINAL:
                raise cli.CheckFailed("saga_finished", f"saga {saga.pk} is already {saga.state}")
            cause = f"operator: sagas {action}"
            (engine.saga_retry_now if action == "retry" else engine.saga_compensate_now)(saga, cause=cause)
            result = saga_show(str(saga.pk))
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._print(action, result)

    def _print(self, action: str, result: dict) -> None:
        out = Console(file=self.stdout, width=160, soft_wrap=True)
        if action == "list":
            table = Table("id", "order", "state", "step", "attempt", "created", "failure")
            for row in result["sagas"]:
                table.add_row(
                    row["id"],
                    row["order"],
                    row["state"],
                    row["step"],
                    str(row["attempt"]),
                    row["created_at"],
                    row["failure"],
                )
            out.print(table)
            out.print(f"{len(result['sagas'])} saga(s)")
            return
        out.print(
            f"saga {result['id']} (order {result['order']}): {result['state']}, step {result['step']} "
            f"attempt {result['attempt']}, trace {result['trace_id']}"
        )
        table = Table("at", "from", "to", "state", "attempt", "cause", "trace id")
        for t in result["transitions"]:
            table.add_row(
                t["at"], t["from"], t["to"], t["state"], str(t["attempt"]), t["cause"], t["trace_id"]
            )
        out.print(table)
