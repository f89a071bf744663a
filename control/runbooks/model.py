"""A runbook as data: preconditions (checks), steps (a project command, the check that must hold after it,
its rollback) and what it is for. Read from a YAML file of RUNBOOKS_DIR (default `runbooks/`), validated
whole, every problem as `file:line: message` (FileProblems), like the gates and policy files.

    name: products                       # the file's stem
    title: "Stage 2: catalog reads move to the Product service"
    kind: stage                          # stage | rollback | drill
    rollback: products-rollback          # (stage) the runbook that undoes it all
    preconditions:
      - {http: "${PRODUCT_SERVICE_URL:-http://127.0.0.1:8101}/readyz", say: the Product service is ready}
    steps:
      - id: canary-5
        say: 5% of users read the catalog from the Product service
        run: manage.py flags rollout route.catalog.read 5
        check: {flag: route.catalog.read, expect: {percentage: 5}, timeout: 10s}
        rollback: manage.py flags off route.catalog.read

A check is one of `run` (a command: exit code, JSON fields of its `--json` output), `http` (status,
headers, JSON fields), `flag` (its percentage) or `gates` (a route's evidence gates all pass); it is
polled until it holds or its timeout passes. `rollback` is a command, or `{none: why}` when the step
changes nothing a client sees."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from control.errors import ControlError
from control.routes_file import expand_env
from control.yamlfile import NodeReader, compose

REPO_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_RUNBOOKS_DIR = REPO_DIR / "runbooks"
KINDS = ("stage", "rollback", "drill")
CHECK_KINDS = ("run", "http", "flag", "gates")
DEFAULT_CHECK_TIMEOUT = 30.0
DEFAULT_STEP_TIMEOUT = 600.0
_STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def expand(text: str, env: Mapping[str, str] | None = None) -> str:
    """`${NAME:-default}` -> the environment variable, else the default (as routes.yaml's upstreams)."""
    return expand_env(text, os.environ if env is None else env)


@dataclass(frozen=True)
class Command:
    """A project command as written (`manage.py flags rollout route.catalog.read 5`), split like a shell."""

    text: str
    line: int

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text)


@dataclass(frozen=True)
class Check:
    kind: str  # run | http | flag | gates
    target: str  # the command, URL, flag name or route id
    expect: dict[str, Any]
    timeout: float
    line: int
    say: str = ""
    route: str | None = None  # (http) the route of the route table the URL goes through
    headers: dict[str, str] = field(default_factory=dict)

    def describe(self, env: Mapping[str, str] | None = None) -> str:
        """`GET http://.../readyz expect status=200`; `env` given: with `${NAME}` expanded from it."""
        wanted = ", ".join(f"{k}={v!r}" for k, v in self.expect.items())
        what = {"run": "`{}`", "http": "GET {}", "flag": "flag {}", "gates": "gates of {}"}[self.kind]
        target = self.target if env is None else expand(self.target, env)
        return what.format(target) + (f" expect {wanted}" if wanted else " passes")


@dataclass(frozen=True)
class Rollback:
    command: Command | None  # None: nothing to undo, for `reason`
    reason: str = ""
    check: Check | None = None


@dataclass(frozen=True)
class Step:
    id: str
    say: str
    command: Command
    checks: tuple[Check, ...]
    rollback: Rollback | None
    timeout: float
    line: int


@dataclass(frozen=True)
class Runbook:
    name: str
    title: str
    kind: str
    path: Path
    description: str
    preconditions: tuple[Check, ...]
    steps: tuple[Step, ...]
    rollback_runbook: str | None = None
    stage: int | None = None

    def step_index(self, step_id: str) -> int:
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        known = ", ".join(s.id for s in self.steps)
        raise ControlError("unknown_step", f"runbook {self.name} has no step {step_id!r} (steps: {known})")


def runbooks_dir() -> Path:
    return Path(os.environ.get("RUNBOOKS_DIR") or DEFAULT_RUNBOOKS_DIR)


def runbook_paths(directory: Path | None = None) -> dict[str, Path]:
    directory = directory or runbooks_dir()
    if not directory.is_dir():
        raise ControlError("no_runbooks", f"no runbooks folder at {directory} (RUNBOOKS_DIR)")
    return {p.stem: p for p in sorted(directory.glob("*.yaml"))}


def runbook_load(name: str, directory: Path | None = None) -> Runbook:
    paths = runbook_paths(directory)
    if name not in paths:
        raise ControlError(
            "unknown_runbook",
            f"no runbook {name!r} in {directory or runbooks_dir()} (known: {', '.join(paths)})",
        )
    return read_runbook(paths[name])


def runbook_list(directory: Path | None = None) -> list[Runbook]:
    return [read_runbook(path) for path in runbook_paths(directory).values()]


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _command(reader: NodeReader, node: yaml.Node, what: str) -> Command | None:
    text = reader.text(node, what)
    if text is None:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        reader.problem(node, f"{what}: cannot be split like a shell command: {exc}")
        return None
    if not argv:
        reader.problem(node, f"{what}: empty command")
        return None
    return Command(text, _line(node))


def _expect(reader: NodeReader, node: yaml.Node | None, what: str) -> dict[str, Any]:
    if node is None:
        return {}
    if not isinstance(node, yaml.MappingNode):
        reader.problem(node, f"{what} must be a mapping")
        return {}
    return yaml.constructor.SafeConstructor().construct_document(node) or {}


_EXPECT_KEYS = {
    "run": {"exit", "json", "stdout_contains"},
    "http": {"status", "headers", "json"},
    "flag": {"percentage"},
    "gates": set(),
}


def _check(reader: NodeReader, node: yaml.Node, what: str) -> Check | None:
    fields = reader.mapping(
        node, what, frozenset({*CHECK_KINDS, "expect", "timeout", "say", "route", "headers"})
    )
    kinds = [k for k in CHECK_KINDS if k in fields]
    if len(kinds) != 1:
        reader.problem(node, f"{what}: a check has exactly one of {', '.join(CHECK_KINDS)}")
        return None
    kind = kinds[0]
    if kind == "run":
        command = _command(reader, fields["run"], f"{what}.run")
        target = command.text if command else None
    else:
        target = reader.text(fields[kind], f"{what}.{kind}")
    expect = _expect(reader, fields.get("expect"), f"{what}.expect")
    unknown = set(expect) - _EXPECT_KEYS[kind]
    if unknown:
        known = ", ".join(sorted(_EXPECT_KEYS[kind])) or "nothing (the gates pass)"
        reader.problem(
            fields["expect"], f"{what}.expect: unknown {', '.join(sorted(unknown))} (known: {known})"
        )
    if kind == "flag" and "percentage" not in expect:
        reader.problem(node, f"{what}: a flag check expects a percentage (0 = off)")
    timeout = DEFAULT_CHECK_TIMEOUT
    if "timeout" in fields:
        timeout = reader.duration(fields["timeout"], f"{what}.timeout") or DEFAULT_CHECK_TIMEOUT
    headers = _expect(reader, fields.get("headers"), f"{what}.headers") if kind == "http" else {}
    if target is None:
        return None
    return Check(
        kind=kind,
        target=target,
        expect=expect,
        timeout=timeout,
        line=_line(node),
        say=reader.text(fields["say"], f"{what}.say") if "say" in fields else "",
        route=reader.text(fields["route"], f"{what}.route") if "route" in fields else None,
        headers={str(k): str(v) for k, v in headers.items()},
    )


def _checks(reader: NodeReader, node: yaml.Node | None, what: str) -> tuple[Check, ...]:
    if node is None:
        return ()
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    found = [_check(reader, item, f"{what}[{i}]") for i, item in enumerate(items)]
    return tuple(c for c in found if c is not None)


def _rollback(reader: NodeReader, node: yaml.Node, what: str) -> Rollback | None:
    if isinstance(node, yaml.ScalarNode):
        command = _command(reader, node, what)
        return Rollback(command) if command else None
    fields = reader.mapping(node, what, frozenset({"run", "check", "none"}))
    if "none" in fields:
        if len(fields) > 1:
            reader.problem(node, f"{what}: `none` stands alone (why nothing needs undoing)")
        reason = reader.text(fields["none"], f"{what}.none")
        return Rollback(None, reason or "")
    if "run" not in fields:
        reader.problem(node, f"{what}: a command (`run`) or `none: why`")
        return None
    command = _command(reader, fields["run"], f"{what}.run")
    check = _check(reader, fields["check"], f"{what}.check") if "check" in fields else None
    return Rollback(command, check=check) if command else None


def read_runbook(path: Path) -> Runbook:
    reader = NodeReader(str(path))
    top = reader.mapping(
        compose(path),
        "the runbook",
        frozenset({"name", "title", "kind", "stage", "rollback", "description", "preconditions", "steps"}),
    )
    name = reader.text(top["name"], "name") if "name" in top else None
    if name != path.stem:
        reader.problem(top.get("name"), f"name must be the file's stem {path.stem!r}, not {name!r}")
    title = reader.text(top["title"], "title") if "title" in top else None
    if title is None:
        reader.problem(top.get("title"), "title is required")
    kind = reader.text(top["kind"], "kind") if "kind" in top else None
    if kind not in KINDS:
        reader.problem(top.get("kind"), f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    stage = reader.number(top["stage"], "stage", low=1, high=9, integer=True) if "stage" in top else None
    steps: list[Step] = []
    seen: set[str] = set()
    step_nodes = top.get("steps")
    if not isinstance(step_nodes, yaml.SequenceNode) or not step_nodes.value:
        reader.problem(step_nodes, "steps: a list of at least one step")
    for index, node in enumerate(step_nodes.value if isinstance(step_nodes, yaml.SequenceNode) else []):
        what = f"steps[{index}]"
        fields = reader.mapping(node, what, frozenset({"id", "say", "run", "check", "rollback", "timeout"}))
        step_id = reader.text(fields["id"], f"{what}.id") if "id" in fields else None
        if step_id is None or not _STEP_ID.match(step_id):
            reader.problem(node, f"{what}: id is required: lowercase letters, digits and dashes")
            continue
        if step_id in seen:
            reader.problem(node, f"{what}: duplicate step id {step_id!r}")
        seen.add(step_id)
        what = f"step {step_id}"
        command = _command(reader, fields["run"], f"{what}.run") if "run" in fields else None
        if command is None:
            reader.problem(node, f"{what}: run (the command) is required")
            continue
        timeout = DEFAULT_STEP_TIMEOUT
        if "timeout" in fields:
            timeout = reader.duration(fields["timeout"], f"{what}.timeout") or DEFAULT_STEP_TIMEOUT
        steps.append(
            Step(
                id=step_id,
                say=reader.text(fields["say"], f"{what}.say") if "say" in fields else "",
                command=command,
                checks=_checks(reader, fields.get("check"), f"{what}.check"),
                rollback=_rollback(reader, fields["rollback"], f"{what}.rollback")
                if "rollback" in fields
                else None,
                timeout=timeout,
                line=_line(node),
            )
        )
    preconditions = _checks(reader, top.get("preconditions"), "preconditions")
    rollback_runbook = reader.text(top["rollback"], "rollback") if "rollback" in top else None
    reader.raise_if_any()
    description = top.get("description")
    return Runbook(
        name=path.stem,
        title=title or "",
        kind=kind or "",
        path=path,
        description=(description.value.strip() if isinstance(description, yaml.ScalarNode) else ""),
        preconditions=preconditions,
        steps=tuple(steps),
        rollback_runbook=rollback_runbook,
        stage=int(stage) if stage is not None else None,
    )
