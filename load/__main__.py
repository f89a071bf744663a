"""`python -m load --stage N --users U --duration 60s --host URL [--json] [--no-progress]`: one stage's locust
suite, headless, as a subprocess, against the gateway; its CSV and HTML report under var/load/<stamp>/, then a
summary table and one JSON line. `make load STAGE=1 USERS=20 DURATION=60s`.

The users are the seed's customers, read from the monolith's database (DATABASE_URL) through `manage.py
shell` unless --users-file names a list. Exit codes: 0 no request failed, 1 some failed, 2 the run could not
happen (one line on stderr).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = ROOT / "load" / "stages"
SEEDED_CUSTOMERS = """
from legacy_monolith.accounts.models import Role, User
from legacy_monolith.core.management.seeding.base import SEED_EMAIL_DOMAIN
users = User.objects.filter(role=Role.CUSTOMER, email__endswith="@" + SEED_EMAIL_DOMAIN, is_active=True)
for name in users.order_by("id").values_list("username", flat=True)[:2000]:
    print("USER " + name)
"""


class LoadError(Exception):
    pass


@dataclass
class LoadResult:
    stage: str
    users: int
    duration: str
    host: str
    report_dir: str
    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    by_name: list[dict] = field(default_factory=list)
    failure_samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.failures == 0

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def stage_file(stage: str) -> Path:
    found = sorted(STAGES.glob(f"stage{stage}_*.py")) or sorted(STAGES.glob(f"{stage}.py"))
    if not found:
        known = ", ".join(p.stem for p in sorted(STAGES.glob("stage*_*.py")))
        raise LoadError(f"no locustfile for stage {stage!r} (known: {known})")
    return found[0]


def export_users(target: Path, env: dict[str, str]) -> Path:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEEDED_CUSTOMERS],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    names = [line.removeprefix("USER ") for line in result.stdout.splitlines() if line.startswith("USER ")]
    if result.returncode != 0 or not names:
        tail = (result.stderr or "no seeded customers").strip().splitlines()[-1:]
        raise LoadError(f"cannot read the seeded users from DATABASE_URL: {tail[0] if tail else '?'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(names) + "\n")
    return target


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0


def read_stats(result: LoadResult, folder: Path) -> LoadResult:
    stats = folder / "stats_stats.csv"
    if not stats.exists():
        raise LoadError(f"locust wrote no statistics ({stats})")
    with stats.open() as handle:
        for row in csv.DictReader(handle):
            entry = {
                "name": row["Name"],
                "requests": int(_number(row["Request Count"])),
                "failures": int(_number(row["Failure Count"])),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "rps": round(_number(row["Requests/s"]), 2),
            }
            if row["Name"] == "Aggregated":
                result.requests, result.failures = entry["requests"], entry["failures"]
                result.p50_ms, result.p95_ms, result.rps = entry["p50_ms"], entry["p95_ms"], entry["rps"]
            else:
                result.by_name.append({"method": row["Type"], **entry})
    failures = folder / "stats_failures.csv"
    if failures.exists():
        with failures.open() as handle:
            result.failure_samples = [
                f"{row['Method']} {row['Name']}: {row['Error']} (x{row['Occurrences']})"
                for row in csv.DictReader(handle)
            ][:10]
    return result


def load_run(*, stage: str, users: int, duration: str, host: str, spawn_rate: float | None = None,
             users_file: Path | None = None, out: Path | None = None) -> LoadResult:  # fmt: skip
    locustfile = stage_file(stage)
    if not re.fullmatch(r"\d+[smh]?", duration):
        raise LoadError(f"--duration {duration!r}: a number of seconds, or like 30s, 5m, 1h")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    folder = (out or ROOT / "var" / "load") / f"{locustfile.stem}-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    users_path = users_file or export_users(folder / "users.txt", env)
    env.update(LOAD_USERS_FILE=str(users_path), PYTHONPATH=str(ROOT))
    argv = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--host", host,
        "-u", str(users), "-r", str(spawn_rate or max(1, users)), "-t", duration,
        "--csv", str(folder / "stats"), "--html", str(folder / "report.html"),
        "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
    ]  # fmt: skip
    completed = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    (folder / "locust.log").write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise LoadError(f"locust exited {completed.returncode}: see {folder / 'locust.log'}")
    result = LoadResult(
        stage=locustfile.stem, users=users, duration=duration, host=host, report_dir=str(folder)
    )
    read_stats(result, folder)
    (folder / "summary.json").write_text(json.dumps(result.as_dict(), indent=1))
    return result


class _Parser(argparse.ArgumentParser):
    """One-line usage errors, exit 2 (the repository's CONVENTIONS.md); load imports nothing of the
    project, so not contracts/cli."""

    def error(self, message: str):
        self.exit(2, f"load: invalid_usage: {message} (see --help)\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m load", description=__doc__.split("\n")[0])
    parser.add_argument("--stage", required=True, help="1..5, or a locustfile's name under load/stages")
    parser.add_argument("--users", type=int, default=20, help="concurrent users (default 20)")
    parser.add_argument("--duration", default="60s", help="how long: 30s, 5m, ... (default 60s)")
    parser.add_argument("--host", default=os.environ.get("LOAD_HOST", "http://127.0.0.1:8080"),
                        help="the gateway (LOAD_HOST, default http://127.0.0.1:8080)")  # fmt: skip
    parser.add_argument("--spawn-rate", type=float, default=None, help="users started per second")
    parser.add_argument("--users-file", type=Path, default=None, help="usernames, one a line")
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument("--no-progress", action="store_true", help="accepted for symmetry; locust runs quiet")
    args = parser.parse_args(argv)
    if args.users < 1:
        print("load: --users must be at least 1", file=sys.stderr)
        return 2
    try:
        result = load_run(stage=args.stage, users=args.users, duration=args.duration, host=args.host,
                          spawn_rate=args.spawn_rate, users_file=args.users_file)  # fmt: skip
    except LoadError as exc:
        print(f"load: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        from rich.console import Console
        from rich.table import Table

        table = Table("request", "count", "failures", "p50 ms", "p95 ms", "req/s",
                      title=f"{result.stage}: {result.users} users for {result.duration}")  # fmt: skip
        for row in result.by_name:
            table.add_row(f"{row['method']} {row['name']}", str(row["requests"]), str(row["failures"]),
                          f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}", f"{row['rps']:.1f}")  # fmt: skip
        table.add_row("total", str(result.requests), str(result.failures), f"{result.p50_ms:.0f}",
                      f"{result.p95_ms:.0f}", f"{result.rps:.1f}", style="bold")  # fmt: skip
        Console().print(table)
        for sample in result.failure_samples:
            print(f"failed: {sample}")
        print(f"report: {result.report_dir}/report.html")
    print(json.dumps(result.as_dict()))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
