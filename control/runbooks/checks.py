"""Evaluating a runbook's checks: once (`check_once`), or polled until it holds or its timeout passes
(`check_until`). Each outcome says what was expected and what was seen, in one line a person reads and
the audit log keeps.

- `run`: a project command; `expect.exit` (default 0), `expect.json` (dotted paths into its stdout as
  JSON, `rollouts.0.state`), `expect.stdout_contains`.
- `http`: a GET (no proxy from the environment); `expect.status` (default 200), `expect.headers`,
  `expect.json`.
- `flag`: the flag's percentage as the flags store has it now (0 when off), through the flags facade.
- `gates`: the route's evidence gates (control/gates), every one passing."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from control.runbooks.commands import run_command
from control.runbooks.model import Check, expand


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    passed: bool
    seen: str  # what was observed, one line
    attempts: int = 1
    seconds: float = 0.0

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAILED"
        return f"{verdict}: {self.check.describe(os.environ)}: {self.seen}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check.describe(os.environ),
            "passed": self.passed,
            "seen": self.seen,
            "attempts": self.attempts,
            "seconds": round(self.seconds, 2),
        }


def dig(document: Any, path: str) -> Any:
    """The value at a dotted path (`flags.0.name`); KeyError naming the first missing part."""
    value = document
    for part in path.split("."):
        if isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"{path}: no {part!r}")
    return value


def _json_mismatches(text: str, wanted: dict[str, Any]) -> list[str]:
    try:
        document = json.loads(text)
    except ValueError:
        return [f"not JSON: {text.strip()[:120]!r}"]
    problems = []
    for path, value in wanted.items():
        try:
            got = dig(document, str(path))
        except KeyError as exc:
            problems.append(str(exc).strip("'\""))
            continue
        if got != value:
            problems.append(f"{path} is {got!r}, not {value!r}")
    return problems


def _short(text: str, size: int = 200) -> str:
    return " ".join(text.split())[-size:]


def _run(check: Check, env: dict[str, str] | None) -> tuple[bool, str]:
    code, out, err = run_command(_argv(check, env), timeout=check.timeout, env=env)
    wanted_exit = int(check.expect.get("exit", 0))
    problems = (
        []
        if code == wanted_exit
        else [f"exit {code}, not {wanted_exit}" + (f" ({_short(err)})" if err else "")]
    )
    if "json" in check.expect and not problems:
        problems += _json_mismatches(out, check.expect["json"])
    if "stdout_contains" in check.expect and str(check.expect["stdout_contains"]) not in out:
        problems.append(f"stdout lacks {check.expect['stdout_contains']!r}")
    return (not problems, "; ".join(problems) if problems else f"exit {code}")


def _argv(check: Check, env: dict[str, str] | None) -> list[str]:
    return shlex.split(expand(check.target, env))


def _http(check: Check, env: dict[str, str] | None) -> tuple[bool, str]:
    url = expand(check.target, env)
    with requests.Session() as session:
        session.trust_env = False
        try:
            answer = session.get(url, headers=check.headers, timeout=min(10.0, max(check.timeout, 1.0)))
        except requests.RequestException as exc:
            return False, f"no answer from {url}: {type(exc).__name__}"
    wanted = int(check.expect.get("status", 200))
    problems = [] if answer.status_code == wanted else [f"status {answer.status_code}, not {wanted}"]
    for name, value in (check.expect.get("headers") or {}).items():
        got = answer.headers.get(str(name))
        if got != str(value):
            problems.append(f"header {name} is {got!r}, not {value!r}")
    if "json" in check.expect:
        problems += _json_mismatches(answer.text, check.expect["json"])
    return (not problems, "; ".join(problems) if problems else f"status {answer.status_code}")


def flag_percentage(name: str) -> int:
    from flags.config import FlagsConfig
    from flags.gates import effective_percentage
    from flags.store import open_store

    return effective_percentage(open_store(FlagsConfig.from_env()).get_flag(name))


def _flag(check: Check, env: dict[str, str] | None) -> tuple[bool, str]:
    try:
        got = flag_percentage(check.target)
    except Exception as exc:  # the store cannot be read: the check fails, naming why
        return False, f"cannot read flag {check.target}: {_short(str(exc))}"
    wanted = int(check.expect["percentage"])
    return got == wanted, f"{check.target} at {got}%"


def _gates(check: Check, env: dict[str, str] | None) -> tuple[bool, str]:
    from control.gates.checks import evaluate_gates
    from control.gates.spec import load_gates
    from control.routes_file import load_route_infos

    routes = load_route_infos()
    gates = load_gates(routes=routes).routes.get(check.target)
    if gates is None:
        return False, f"route {check.target} has no gates in the gates file"
    results = evaluate_gates(gates)
    failed = [r.line() for r in results if not r.passed]
    return not failed, "; ".join(failed) if failed else ", ".join(r.gate for r in results) + " pass"


EVALUATORS: dict[str, Callable[[Check, dict[str, str] | None], tuple[bool, str]]] = {
    "run": _run,
    "http": _http,
    "flag": _flag,
    "gates": _gates,
}


def check_once(check: Check, env: dict[str, str] | None = None) -> CheckOutcome:
    started = time.monotonic()
    try:
        passed, seen = EVALUATORS[check.kind](check, env)
    except Exception as exc:  # a check that cannot be evaluated fails, naming why
        passed, seen = False, f"cannot be evaluated ({type(exc).__name__}: {_short(str(exc))})"
    return CheckOutcome(check, passed, seen, 1, time.monotonic() - started)


def check_until(
    check: Check, env: dict[str, str] | None = None, *, interval: float = 0.5, sleep=time.sleep
) -> CheckOutcome:
    """Poll until the check holds or its timeout passes; the last outcome, with the attempts made."""
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        outcome = check_once(check, env)
        elapsed = time.monotonic() - started
        if outcome.passed or elapsed + interval > check.timeout:
            return CheckOutcome(check, outcome.passed, outcome.seen, attempts, elapsed)
        sleep(interval)
