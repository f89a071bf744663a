"""`make test`: the suite as independent pytest sessions, TEST_JOBS at a time (`python -m tests.sessions`).

The suite is several pytest sessions, because each extracted service's tests run under that service's own
settings (`--ds`), and the monolith's under the monolith's. Most of the time goes into end-to-end modules that
wait on real processes (gunicorn, mitmdump, RabbitMQ), not into CPU, so sessions run side by side:

- `main-1`, `main-2`: the monolith, the gateway, the toolkit (tests/ without tests/e2e, tests/chassis,
  tests/extracted), split by module into shards of about equal time (tests/timings.json);
- `e2e-1` … `e2e-N`: tests/e2e split by module into shards of about equal time (tests/timings.json);
- `chassis` and one session per service under tests/extracted/.

No session runs alone: the drills that stop and start RabbitMQ do it to a node of their own
(tests/rabbitmq_node.py), never to the shared broker.

Sessions share no state: each gets its own database names (every `*_DATABASE_URL` gets the suffix `_s<n>`, so
Django's test databases differ too) and its own Redis database (`/n`); e2e modules already make throwaway
databases and RabbitMQ vhosts of their own. Each session's output goes to var/test-logs/<name>.log; the
terminal shows one line per session as it ends, the ten slowest tests of each, and the tail of every
failed session's log. Exit 1 when any session failed.

    python -m tests.sessions [--jobs N] [--only NAME ...] [--list] [--record-timings] [-- pytest args]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "tests" / "timings.json"
LOGS = ROOT / "var" / "test-logs"
E2E = "tests/e2e"
E2E_SHARDS = 3
MAIN_SHARDS = 2
TAIL_LINES = 120


@dataclass
class Session:
    name: str
    args: list[str]
    weight: float  # expected seconds, for the schedule
    index: int = 0
    env: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None

    @property
    def log(self) -> Path:
        return LOGS / f"{self.name}.log"

    @property
    def junit(self) -> Path:
        return LOGS / f"{self.name}.xml"


def load_timings() -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(TIMINGS.read_text()).items()}
    except (OSError, ValueError):
        return {}


def module_weight(path: str, timings: dict[str, float]) -> float:
    """Seconds the module took last time it was recorded; else a guess from its size (new modules)."""
    if path in timings:
        return timings[path]
    guess = (ROOT / path).stat().st_size / 400
    return max(5.0, guess * 5 if path.startswith(E2E) else guess)  # e2e modules wait on real processes


def shard(modules: list[str], count: int, timings: dict[str, float]) -> list[list[str]]:
    """Longest modules first, each to the lightest shard (LPT): shards of about equal time."""
    shards: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(count)]
    for module in sorted(modules, key=lambda m: -module_weight(m, timings)):
        load, members = min(shards, key=lambda s: s[0])
        shards.remove((load, members))
        shards.append((load + module_weight(module, timings), [*members, module]))
    return [sorted(members) for _, members in shards if members]


def plan(
    timings: dict[str, float], e2e_shards: int = E2E_SHARDS, main_shards: int = MAIN_SHARDS
) -> list[Session]:
    sessions: list[Session] = []
    separate = (E2E, "tests/extracted/", "tests/chassis/")  # sessions of their own
    main_modules = sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "tests").rglob("test_*.py")
        if not str(p.relative_to(ROOT)).startswith(separate)
    )
    for n, members in enumerate(shard(main_modules, main_shards, timings), start=1):
        sessions.append(Session(f"main-{n}", members, sum(module_weight(m, timings) for m in members)))
    e2e_modules = sorted(str(p.relative_to(ROOT)) for p in (ROOT / E2E).glob("test_*.py"))
    for n, members in enumerate(shard(e2e_modules, e2e_shards, timings), start=1):
        sessions.append(Session(f"e2e-{n}", members, sum(module_weight(m, timings) for m in members)))
    service_dirs = [ROOT / "tests" / "chassis", *sorted((ROOT / "tests" / "extracted").glob("*_service"))]
    for directory in service_dirs:
        name = directory.name
        settings = (
            "tests.chassis.chassis_service.settings" if name == "chassis" else f"extracted.{name}.settings"
        )
        rel = str(directory.relative_to(ROOT))
        weight = sum(v for k, v in timings.items() if k.startswith(rel + "/")) or 60.0
        sessions.append(Session(name, [f"--ds={settings}", f"--confcutdir={rel}", rel], weight))
    for index, session in enumerate(sessions, start=1):
        session.index = index
    return sessions


def session_env(base: dict[str, str], index: int) -> dict[str, str]:
    """Every *_DATABASE_URL gets the suffix _s<index> (so do Django's test databases); Redis, db <index>."""
    env = dict(base)
    for key, value in base.items():
        if key.endswith("DATABASE_URL") and value.startswith("postgres"):
            head, _, query = value.partition("?")
            env[key] = f"{head}_s{index}" + (f"?{query}" if query else "")
    redis = base.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    env["REDIS_URL"] = re.sub(r"/\d*$", "", redis) + f"/{index % 16}"
    env["STRANGLER_TEST_SESSION"] = str(index)
    return env


def start(session: Session, pytest_args: list[str]) -> subprocess.Popen:
    LOGS.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "pytest", "--durations=10", f"--junitxml={session.junit}",
        "-p", "no:cacheprovider", *session.args, *pytest_args,
    ]  # fmt: skip
    session.started = time.monotonic()
    log = session.log.open("w")
    log.write("$ " + " ".join(argv) + "\n")
    log.flush()
    return subprocess.Popen(argv, cwd=ROOT, env=session.env, stdout=log, stderr=subprocess.STDOUT)


def slowest(log: Path) -> list[str]:
    lines = log.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if "slowest 10 durations" in line:
            return [x for x in lines[i + 1 : i + 11] if x.strip() and not x.startswith("=")]
    return []


def outcome_line(log: Path) -> str:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("=") and (" in " in line):
            return line.strip("= ")
    return "(no pytest summary: see the log)"


def run(sessions: list[Session], jobs: int, pytest_args: list[str]) -> list[Session]:
    """Heaviest first, `jobs` at a time."""
    queue = sorted(sessions, key=lambda s: -s.weight)
    running: dict[subprocess.Popen, Session] = {}
    began = time.monotonic()

    def reap(block: bool) -> None:
        while running:
            for process, session in list(running.items()):
                if process.poll() is not None:
                    session.returncode = process.returncode
                    session.seconds = time.monotonic() - session.started
                    del running[process]
                    report(session, time.monotonic() - began)
                    return
            if not block:
                return
            time.sleep(0.5)

    for session in queue:
        while len(running) >= jobs:
            reap(block=True)
        print(
            f"[{time.monotonic() - began:6.0f}s] start {session.name}: {' '.join(session.args)}", flush=True
        )
        running[start(session, pytest_args)] = session
    while running:
        reap(block=True)
    return sessions


def report(session: Session, at: float) -> None:
    status = "ok" if session.returncode in (0, 5) else f"FAILED ({session.returncode})"
    print(
        f"[{at:6.0f}s] {session.name}: {status} in {session.seconds:.0f} s: {outcome_line(session.log)}",
        flush=True,
    )
    for line in slowest(session.log):
        print(f"    {line}", flush=True)


def record_timings(sessions: list[Session]) -> None:
    """Per-module seconds from each session's junit XML, merged into tests/timings.json."""
    timings = load_timings()
    for session in sessions:
        if not session.junit.exists():
            continue
        per_module: dict[str, float] = {}
        for case in ElementTree.parse(session.junit).iter("testcase"):
            module = case.get("classname", "").split(".")
            path = "/".join(m for m in module if not m[:1].isupper()) + ".py"
            per_module[path] = per_module.get(path, 0.0) + float(case.get("time", 0))
        timings.update({k: round(v, 1) for k, v in per_module.items() if (ROOT / k).exists()})
    TIMINGS.write_text(json.dumps(dict(sorted(timings.items())), indent=1) + "\n")
    print(f"timings of {len(timings)} modules written to {TIMINGS.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sessions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "2")))
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these sessions only")
    parser.add_argument(
        "--list", action="store_true", help="print the sessions and their modules, run nothing"
    )
    parser.add_argument("--record-timings", action="store_true", help="update tests/timings.json afterwards")
    options, pytest_args = parser.parse_known_args(argv)
    pytest_args = [a for a in pytest_args if a != "--"]
    if options.jobs < 1:
        parser.error("--jobs must be 1 or more")
    sessions = plan(load_timings())
    if options.only:
        unknown = set(options.only) - {s.name for s in sessions}
        if unknown:
            parser.error(f"unknown session(s): {', '.join(sorted(unknown))}")
        sessions = [s for s in sessions if s.name in options.only]
    for session in sessions:
        session.env = session_env(dict(os.environ), session.index)
    if options.list:
        for session in sessions:
            print(f"{session.name} (~{session.weight:.0f} s): {' '.join(session.args)}")
        return 0
    began = time.monotonic()
    run(sessions, options.jobs, pytest_args)
    failed = [s for s in sessions if s.returncode not in (0, 5)]
    for session in failed:
        lines = session.log.read_text(errors="replace").splitlines()
        print(
            f"\n===== {session.name} failed: last {TAIL_LINES} lines of {session.log.relative_to(ROOT)} ====="
        )
        print("\n".join(lines[-TAIL_LINES:]))
    if options.record_timings:
        record_timings(sessions)
    took = time.monotonic() - began
    print(f"\n===== {len(sessions)} pytest sessions in {took:.0f} s, {options.jobs} at a time =====")
    for session in sessions:
        status = "ok" if session.returncode in (0, 5) else "FAILED"
        print(f"  {session.name:<22} {status:<7} {session.seconds:6.0f} s  {outcome_line(session.log)}")
    if failed:
        print("failed pytest sessions: " + " ".join(s.name for s in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
