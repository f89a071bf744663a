"""`runbook lint`: every runbook is read whole, and each command exists and parses (with its own parser,
nothing runs); each route, flag, gate and sync entity it names exists; each step that changes something
has a rollback; a stage's rollback runbook exists. Problems are `file:line: message`."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from control.errors import ControlError
from control.runbooks.commands import parse_command, prime_service_parses
from control.runbooks.model import Check, Command, Runbook, read_runbook, runbook_paths


@dataclass(frozen=True)
class Known:
    """What a runbook may name: the route table's routes, the flags it or the bootstrap file defines, the
    routes the gates file lists."""

    routes: frozenset[str]
    flags: frozenset[str]
    gated_routes: frozenset[str]
    runbooks: frozenset[str]

    @classmethod
    def load(cls, runbooks: frozenset[str]) -> Known:
        from control.gates.spec import load_gates
        from control.routes_file import load_route_infos
        from flags.config import FlagsConfig

        routes = load_route_infos()
        bootstrap = json.loads(Path(FlagsConfig.from_env().bootstrap_file).read_text(encoding="utf-8"))
        flags = {f["name"] for f in bootstrap.get("features", [])} | {
            r.flag for r in routes.values() if r.flag
        }
        return cls(
            routes=frozenset(routes),
            flags=frozenset(flags),
            gated_routes=frozenset(load_gates(routes=routes).routes),
            runbooks=runbooks,
        )


@dataclass
class LintResult:
    runbooks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"runbooks": self.runbooks, "problems": self.problems, "clean": self.clean}


class _Linter:
    def __init__(self, runbook: Runbook, known: Known, problems: list[str]) -> None:
        self.runbook, self.known, self.problems = runbook, known, problems
        self.flags = set(known.flags)

    def problem(self, line: int, message: str) -> None:
        self.problems.append(f"{self.runbook.path}:{line}: {message}")

    def command(self, command: Command, what: str):
        try:
            parsed = parse_command(shlex.split(command.text))
        except ControlError as exc:
            self.problem(command.line, f"{what}: {exc.message}")
            return None
        for route in parsed.routes:
            if route not in self.known.routes:
                self.problem(command.line, f"{what}: route {route!r} is not in the route table")
        for flag in parsed.flags:
            if flag not in self.flags:
                self.problem(
                    command.line, f"{what}: flag {flag!r} is not defined (bootstrap file or route table)"
                )
        self.flags.update(parsed.created_flags)
        return parsed

    def check(self, check: Check, what: str) -> None:
        if check.kind == "run":
            self.command(Command(check.target, check.line), f"{what} check")
        elif check.kind == "flag" and check.target not in self.flags:
            self.problem(check.line, f"{what} check: flag {check.target!r} is not defined")
        elif check.kind == "gates" and check.target not in self.known.gated_routes:
            self.problem(check.line, f"{what} check: route {check.target!r} has no gates in the gates file")
        if check.route is not None and check.route not in self.known.routes:
            self.problem(check.line, f"{what} check: route {check.route!r} is not in the route table")

    def lint(self) -> None:
        book = self.runbook
        if book.rollback_runbook is not None and book.rollback_runbook not in self.known.runbooks:
            self.problem(1, f"rollback runbook {book.rollback_runbook!r} does not exist")
        if book.kind == "stage" and book.rollback_runbook is None:
            self.problem(1, "a stage runbook names its rollback runbook (`rollback: NAME`)")
        for check in book.preconditions:
            self.check(check, "precondition")
        for step in book.steps:
            what = f"step {step.id}"
            parsed = self.command(step.command, what)
            for check in step.checks:
                self.check(check, what)
            if step.rollback is not None and step.rollback.command is not None:
                self.command(step.rollback.command, f"{what} rollback")
                if step.rollback.check is not None:
                    self.check(step.rollback.check, f"{what} rollback")
            if parsed is not None and parsed.changes and step.rollback is None:
                self.problem(
                    step.line,
                    f"{what} changes something (`{step.command.text}`) and has no rollback "
                    "(a command, or `none: why`)",
                )


def runbook_lint(directory: Path | None = None, names: list[str] | None = None) -> LintResult:
    """Lint every runbook (or those `names`)."""
    result = LintResult()
    paths = runbook_paths(directory)
    known = Known.load(frozenset(paths))
    books: list[Runbook] = []
    for name, path in paths.items():
        if names is not None and name not in names:
            continue
        result.runbooks.append(name)
        try:
            books.append(read_runbook(path))
        except ControlError as exc:
            result.problems.extend(line for line in exc.message.splitlines() if line)
    prime_service_parses(_argvs(books))  # one child per service for all its commands
    for book in books:
        _Linter(book, known, result.problems).lint()
    return result


def _argvs(books: list[Runbook]):
    """Every command line the runbooks hold: steps, checks, rollbacks and their checks."""
    for book in books:
        checks = list(book.preconditions)
        for step in book.steps:
            yield shlex.split(step.command.text)
            checks += step.checks
            if step.rollback is not None and step.rollback.command is not None:
                yield shlex.split(step.rollback.command.text)
            if step.rollback is not None and step.rollback.check is not None:
                checks.append(step.rollback.check)
        for check in checks:
            if check.kind == "run":
                yield shlex.split(check.target)
