"""`manage.py runbook list | show NAME | run NAME [--dry-run] [--from STEP] [--yes] [--rollback-on-failure]
| lint`: parsing and rendering; the work is in model, runner and lint.

Exit codes (contracts/cli): 0 done (lint: clean); 1 a check said no (a step's check failed, with or
without its rollback; lint found problems, one line each; a step declined); 2 bad usage (an unknown
runbook or step, `run` off a terminal without `--yes`) or an unusable environment; 130 interrupted
(the run says where to resume)."""

from __future__ import annotations

import sys
from typing import IO, Any

from rich.table import Table

from contracts import cli
from control.commandline import console_for, print_json
from control.runbooks.lint import runbook_lint
from control.runbooks.model import Runbook, expand, runbook_list, runbook_load
from control.runbooks.runner import Runner, read_state
from flags.config import default_actor

EXIT_OK = 0


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str):
        p = sub.add_parser(name, help=help_text, description=help_text)
        cli.add_json(p)
        return p

    command("list", "every runbook: stage, kind, steps, the last run")
    command("show", "one runbook in full: preconditions, steps, checks, rollbacks").add_argument("name")
    run = command("run", "execute a runbook step by step; stop at the first failing check")
    run.add_argument("name")
    run.add_argument("--dry-run", action="store_true", help="print every command and check; change nothing")
    run.add_argument("--from", dest="from_step", metavar="STEP", default=None, help="start at this step")
    run.add_argument("--yes", action="store_true", help="run every step without asking")
    run.add_argument(
        "--rollback-on-failure",
        action="store_true",
        help="on a failed step, roll back the steps done at once",
    )
    run.add_argument("--actor", default=None, help="who the audit log names (default: $USER@host)")
    command("lint", "check every runbook: commands parse, names exist, changing steps have a rollback")


def _check_view(check) -> dict[str, Any]:
    return {"kind": check.kind, "target": check.target, "expect": check.expect, "timeout": check.timeout}


def runbook_view(book: Runbook) -> dict[str, Any]:
    return {
        "name": book.name,
        "title": book.title,
        "kind": book.kind,
        "stage": book.stage,
        "rollback_runbook": book.rollback_runbook,
        "description": book.description,
        "path": str(book.path),
        "preconditions": [{**_check_view(c), "describe": c.describe()} for c in book.preconditions],
        "steps": [
            {
                "id": s.id,
                "say": s.say,
                "run": s.command.text,
                "checks": [{**_check_view(c), "describe": c.describe()} for c in s.checks],
                "rollback": (
                    None
                    if s.rollback is None
                    else {
                        "run": s.rollback.command.text if s.rollback.command else None,
                        "none": s.rollback.reason,
                    }
                ),
            }
            for s in book.steps
        ],
        "last_run": read_state(book.name),
    }


def _confirm(question: str) -> bool:
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in {"y", "yes"}


def run(options: dict[str, Any], *, out: IO[str], confirm=None, stdin_is_tty: bool | None = None) -> int:
    console = console_for(out)
    as_json = bool(options.get("json"))
    match options["command"]:
        case "list":
            books = runbook_list()
            if as_json:
                print_json(out, {"runbooks": [runbook_view(b) for b in books]})
                return EXIT_OK
            table = Table(title="runbooks")
            for column in ("name", "kind", "stage", "steps", "title", "last run"):
                table.add_column(column, overflow="fold")
            for book in books:
                state = read_state(book.name) or {}
                last = f"{state.get('status')} {state.get('at', '')[:19]}" if state else ""
                table.add_row(
                    book.name, book.kind, str(book.stage or ""), str(len(book.steps)), book.title, last
                )
            console.print(table)
        case "show":
            book = runbook_load(options["name"])
            view = runbook_view(book)
            if as_json:
                print_json(out, view)
                return EXIT_OK
            console.print(f"[bold]{book.name}[/bold]: {book.title} ({book.kind})", highlight=False)
            if book.description:
                console.print(book.description, markup=False)
            for check in book.preconditions:
                console.print(f"precondition: {check.describe()}", markup=False)
            for index, step in enumerate(book.steps, start=1):
                console.print(f"[{index}] {step.id}: {step.say}", markup=False)
                console.print(f"    run: {expand(step.command.text)}", markup=False)
                for check in step.checks:
                    console.print(f"    check: {check.describe()} (within {check.timeout:g} s)", markup=False)
                if step.rollback is not None:
                    undo = (
                        step.rollback.command.text
                        if step.rollback.command
                        else f"none: {step.rollback.reason}"
                    )
                    console.print(f"    rollback: {undo}", markup=False)
            if book.rollback_runbook:
                console.print(f"rollback runbook: {book.rollback_runbook}", markup=False)
        case "lint":
            result = runbook_lint()
            if as_json:
                print_json(out, result.to_dict())
            else:
                console.print(
                    f"{len(result.runbooks)} runbooks, {len(result.problems)} problems", markup=False
                )
            _raise_problems(result)
        case "run":
            return run_runbook(options, out=out, console=console, confirm=confirm, stdin_is_tty=stdin_is_tty)
    return EXIT_OK


def _raise_problems(result) -> None:
    if not result.clean:
        failure = cli.CheckFailed("runbook_problems", f"{len(result.problems)} problems in the runbooks:")
        failure.detail_lines = tuple(result.problems)
        raise failure


def run_runbook(options, *, out, console, confirm, stdin_is_tty) -> int:
    book = runbook_load(options["name"])
    start = book.step_index(options["from_step"]) if options.get("from_step") else 0
    dry_run = bool(options.get("dry_run"))
    if stdin_is_tty is None:
        stdin_is_tty = sys.stdin.isatty()
    if not dry_run and not options.get("yes") and confirm is None and not stdin_is_tty:
        raise cli.UsageError("not a terminal to ask on: pass --yes to run the steps without asking")
    if dry_run:  # a dry run proves the runbook would parse: its own lint first
        _raise_problems(runbook_lint(names=[book.name]))
    audit = None
    if not dry_run:
        from flags.audit import AuditLog
        from flags.config import FlagsConfig

        audit = AuditLog.from_config(FlagsConfig.from_env())
    as_json = bool(options.get("json"))

    def say(line: str) -> None:
        if not as_json:
            console.print(line, markup=False, highlight=False)
            out.flush()

    runner = Runner(
        runbook=book,
        say=say,
        confirm=None if options.get("yes") or dry_run else (confirm or _confirm),
        actor=options.get("actor") or default_actor(),
        audit=audit,
        rollback_on_failure=bool(options.get("rollback_on_failure")),
    )
    result = runner.dry_run(start) if dry_run else runner.run(start)
    if as_json:
        print_json(out, result.to_dict())
    match result.outcome:
        case "done" | "dry_run":
            return EXIT_OK
        case "interrupted":
            raise KeyboardInterrupt
        case "declined":
            raise cli.CheckFailed("declined", result.reason)
        case _:
            raise cli.CheckFailed(f"runbook_{result.outcome}", result.reason)
