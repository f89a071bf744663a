"""Every command follows the command-line convention (CONVENTIONS.md): driven into a malformed, down,
missing or unmigrated database, an unreachable broker, a port in use and a bad argument, it prints ONE
line `<command>: <code>: <message>` on stderr and exits 2, never a traceback or a hang.

The commands are discovered, so one added later is covered without a line here: the management commands
of the project's apps (manage.py and every `python -m extracted.<service>`) and every package with a
`__main__.py`. Each declares how to reach each failure (`cli_examples` on the Command class,
`CLI_EXAMPLES` in the package), and this test fails for a command that declares nothing. Real processes,
real sockets, the real RabbitMQ port space; the databases are throwaway names and SQLite files.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from chassis.runner import entry_hints
from legacy_monolith.demo.processes import free_port

REPO = Path(__file__).resolve().parent.parent
# the project's packages: import-linter's root packages (pyproject.toml), so a new one is seen here too
PROJECT_PACKAGES = tuple(
    tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)
# every database the monolith's settings read (DATABASE_URL, SHADOW_DATABASE_URL, ...)
MONOLITH_DATABASES = tuple(
    sorted(set(re.findall(r'"([A-Z_]*DATABASE_URL)"', (REPO / "legacy_monolith/settings.py").read_text())))
)
LINE = re.compile(r"^(?P<prog>[^:]+): (?P<code>[a-z_]+): (?P<message>\S.*)$")
RUN_TIMEOUT = 90  # a command that hangs (retrying forever) fails here
SCENARIO_CODES = {
    "database_malformed": {"invalid_setting"},
    "database_down": {"database_unavailable"},
    "database_missing": {"database_not_found"},
    "database_unmigrated": {"database_not_migrated"},
    "broker": {"broker_unavailable", "queue_unavailable", "timed_out"},
    "port": {"port_in_use"},
    "bad_argument": {"invalid_usage", "invalid_option"},
}
SERVICE_LISTING = """
import json, django
from django.conf import settings
from django.core.management import get_commands, load_command_class
django.setup()
packages = tuple(json.loads(__import__("sys").argv[1]))
commands = {}
for name, app in sorted(get_commands().items()):
    if app.split(".")[0] in packages:
        commands[name] = getattr(load_command_class(app, name), "cli_examples", None)
consumers = [c.rsplit(".", 1)[-1] for c in getattr(settings, "CONSUMERS", [])]
names = [django.utils.module_loading.import_string(c).name for c in getattr(settings, "CONSUMERS", [])]
print(json.dumps({"commands": commands, "consumers": names}))
"""


@dataclass(frozen=True)
class Entry:
    """One way to run commands: manage.py, a service's `python -m`, or a package's `python -m`."""

    name: str  # for test ids
    argv: tuple[str, ...]
    django: bool
    database_envs: tuple[str, ...] = ()
    placeholders: dict[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Case:
    entry: Entry
    command: str | None  # None: the entry point itself (python -m <package>)
    scenario: str
    args: tuple[str, ...]

    @property
    def id(self) -> str:
        parts = [self.entry.name, self.command or "", self.scenario, " ".join(self.args)]
        return ":".join(p for p in parts if p)


def _project_commands() -> dict[str, object]:
    return {
        name: getattr(load_command_class(app, name), "cli_examples", None)
        for name, app in sorted(get_commands().items())
        if app.split(".")[0] in PROJECT_PACKAGES
    }


def _service_commands(package: str) -> tuple[dict[str, object], list[str]]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": f"{package}.settings"}
    listed = subprocess.run(
        [sys.executable, "-c", SERVICE_LISTING, json.dumps(PROJECT_PACKAGES)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if listed.returncode != 0:
        raise RuntimeError(f"cannot list the commands of {package}: {listed.stderr[-2000:]}")
    data = json.loads(listed.stdout)
    return data["commands"], data["consumers"]


def _entries() -> list[tuple[Entry, dict[str, object]]]:
    """(entry, {command: examples}) for every entry point; command "" is the entry point itself."""
    found = [
        (
            Entry("manage.py", (sys.executable, "manage.py"), True, MONOLITH_DATABASES),
            _project_commands(),
        )
    ]
    for main in sorted(REPO.glob("extracted/*/__main__.py")):
        package = f"extracted.{main.parent.name}"
        commands, consumers = _service_commands(package)
        setting = entry_hints(f"{package}.settings")[1].database_setting
        placeholders = {"consumer": consumers[0]} if consumers else {}
        entry = Entry(package, (sys.executable, "-m", package), True, (setting,), placeholders)
        found.append((entry, commands))
    for main in sorted(REPO.glob("**/__main__.py")):
        relative = main.parent.relative_to(REPO)
        if relative.parts[0] not in PROJECT_PACKAGES or relative.parts[0] == "extracted":
            continue
        package = ".".join(relative.parts)
        examples = getattr(importlib.import_module(package), "CLI_EXAMPLES", None)
        found.append((Entry(package, (sys.executable, "-m", package), False), {"": examples}))
    return found


def _cases() -> tuple[list[Case], list[str]]:
    """A database that is down and one that is not migrated for every command that uses one; a missing
    database (the same failure path as one that is down) once per entry point, to keep the run short."""
    cases, undeclared = [], []
    for entry, commands in _entries():
        missing_database_driven = False
        for command, examples in commands.items():
            label = f"{entry.name} {command}".strip()
            if not isinstance(examples, dict) or "bad_argument" not in examples:
                undeclared.append(label)
                continue
            name = command or None
            prefix = (command,) if command else ()
            if entry.django:  # settings are read before any argument: every command meets it
                cases.append(Case(entry, name, "database_malformed", (*prefix, "--help")))
            for scenario, argvs in examples.items():
                argvs = argvs if argvs and isinstance(argvs[0], list) else [argvs]
                for argv in argvs:
                    try:
                        args = (*prefix, *(a.format(**entry.placeholders, port="{port}") for a in argv))
                    except KeyError:  # e.g. {consumer} in a service that has no consumer
                        continue
                    if scenario == "database":
                        kinds = ["down", "unmigrated"] + ([] if missing_database_driven else ["missing"])
                        missing_database_driven = True
                        cases += [Case(entry, name, f"database_{kind}", args) for kind in kinds]
                    else:
                        cases.append(Case(entry, name, scenario, args))
    return cases, undeclared


CASES, UNDECLARED = _cases()


def _environment(case: Case, tmp: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHADOW_QUEUE_URL", "STRANGLER_TRACEBACK")}
    missing_file = f"sqlite:///{tmp / 'absent' / 'nothing.sqlite3'}"  # touching it fails loudly
    env |= {
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "FLAGS_FILE": str(tmp / "flags.json"),
        "FLAGS_AUDIT_LOG": str(tmp / "flags-audit.log"),
        "BROKER_URL": "filesystem://",
        "COLUMNS": "200",
    }
    env.pop("UNLEASH_URL", None)
    databases = {
        "database_malformed": "foo://nowhere/x",
        "database_down": f"postgres://postgres@127.0.0.1:{free_port()}/x",
        "database_missing": f"postgres://postgres@127.0.0.1:5432/h_convention_{uuid.uuid4().hex[:12]}",
    }
    for index, variable in enumerate(case.entry.database_envs):
        if case.scenario == "database_unmigrated":
            empty = tmp / f"empty-{index}.sqlite3"
            empty.touch()
            env[variable] = f"sqlite:///{empty}"
        else:
            env[variable] = databases.get(case.scenario, missing_file)
    if case.scenario == "broker":
        env["BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:{port}//"
    return env


@dataclass
class Outcome:
    returncode: int | None
    stderr: str
    seconds: float = 0.0


def _run(case: Case, tmp: Path) -> Outcome:
    started = time.monotonic()
    outcome = _run_case(case, tmp)
    outcome.seconds = time.monotonic() - started
    return outcome


def _run_case(case: Case, tmp: Path) -> Outcome:
    tmp.mkdir(parents=True)
    (tmp / "var").mkdir()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        if case.scenario == "port":
            taken.listen()  # the port the command is told to use is held by someone else
        port = taken.getsockname()[1]
        if case.scenario != "port":
            taken.close()  # a closed port: nothing answers there (the unreachable broker)
        argv = [*case.entry.argv, *(a.replace("{port}", str(port)) for a in case.args)]
        try:
            done = subprocess.run(
                argv, cwd=REPO, env=_environment(case, tmp, port), capture_output=True, text=True,
                timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            return Outcome(None, f"no exit within {RUN_TIMEOUT} s: {exc.stderr!r}")
    return Outcome(done.returncode, done.stderr)


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory) -> dict[str, Outcome]:
    """Every case run once, four at a time (each is a short-lived process; most wait on I/O)."""
    root = tmp_path_factory.mktemp("convention")
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {case.id: pool.submit(_run, case, root / f"case-{n}") for n, case in enumerate(CASES)}
    return {case_id: future.result() for case_id, future in futures.items()}


def test_every_command_declares_how_to_drive_it_into_each_failure():
    assert UNDECLARED == [], (
        "declare `cli_examples` (a Command attribute) or `CLI_EXAMPLES` (in the package) with at least "
        "'bad_argument' (see CONVENTIONS.md, 'How to write a command') for: " + ", ".join(UNDECLARED)
    )


def test_the_discovery_finds_the_commands_of_every_entry_point():
    ids = {case.id.split(":")[0] + ":" + (case.command or "") for case in CASES}
    for expected in (
        "manage.py:flags", "manage.py:sync", "manage.py:shadow", "manage.py:gateway",
        "manage.py:seed_techstore", "manage.py:legacy_sessions", "extracted.product_service:consume",
        "extracted.auth_service:auth", "extracted.auth_service:serve", "strangler_proxy:", "flags:",
    ):  # fmt: skip
        assert expected in ids


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_command_fails_in_one_line_with_exit_code_2(case: Case, outcomes):
    outcome = outcomes[case.id]
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]

    assert outcome.returncode == 2, f"exit {outcome.returncode}; stderr:\n{outcome.stderr}"
    assert len(lines) == 1, f"stderr is not one line:\n{outcome.stderr}"
    line = LINE.match(lines[0])
    assert line, f"not `<command>: <code>: <message>`: {lines[0]}"
    assert line["code"] in SCENARIO_CODES[case.scenario], lines[0]


# The chassis's own commands run a service; the monolith installs the chassis for its models only.
SERVICE_COMMANDS = ("serve", "relay_outbox", "consume", "events", "worker", "beat")


def test_the_monolith_lists_none_of_the_services_commands():
    """`events` is the monolith's own (migrations_data: `events keys rotate|list` for its relay's signing
    keys), not the chassis's, whose dead-letter console needs a service's consumers."""
    commands = get_commands()
    assert set(SERVICE_COMMANDS) & {name for name, app in commands.items() if app == "chassis"} == set()
    assert commands.get("events") == "migrations_data"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("manage.py", "serve", "--bind", "127.0.0.1:0"), "python -m extracted.<service> serve"),
        (("manage.py", "consume", "product_service.catalog"), "python -m extracted.<service> consume"),
        (("manage.py", "nosuch"), "unknown command 'nosuch' (see `manage.py help`)"),
        (("-m", "extracted.product_service", "nosuch"), "see `python -m extracted.product_service help`"),
    ],
)
def test_an_unknown_command_is_one_line_and_exit_2_naming_where_a_service_command_runs(
    argv, expected, tmp_path
):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'monolith.sqlite3'}"}
    env["PRODUCT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'product.sqlite3'}"
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    lines = done.stderr.strip().splitlines()

    assert (done.returncode, len(lines)) == (2, 1), done.stderr
    assert LINE.match(lines[0])["code"] == "unknown_command"
    assert expected in lines[0]
