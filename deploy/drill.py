"""The restore drill: `python -m deploy.drill restore [--products N] [--users N] [--orders N] [--json]`.

With real processes on this machine's PostgreSQL: seed the monolith, run the Product service (gunicorn) and
`sync products backfill` into it; back both databases up with `python -m deploy.backup run`; destroy the
service's database; restore the backup into a fresh one; serve it again and run `sync products verify`
against the monolith: the drill passes with 0 differences and the same row counts as before the loss.
`make test` runs it small (tests/deploy/test_backup.py), `make drill-restore` at full size.
Databases are created beside DRILL_DATABASE_URL's server (default: DATABASE_URL's) and dropped afterwards.
Exit codes: 0 passed, 1 the restored data differs, 2 the drill could not run (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class DrillError(Exception):
    pass


@dataclass
class DrillResult:
    products: int
    steps: dict[str, float] = field(default_factory=dict)
    rows_before: int = 0
    rows_after: int = 0
    differences: int | None = None
    backup_bytes: int = 0

    @property
    def passed(self) -> bool:
        return self.differences == 0 and self.rows_before == self.rows_after > 0

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _psql(admin: str, sql: str) -> str:
    result = subprocess.run(["psql", admin, "-tAqc", sql], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DrillError(f"psql: {result.stderr.strip()}")
    return result.stdout.strip()


def _run(argv: list[str], env: dict[str, str], *, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    argv = [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode not in ok:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise DrillError(f"{' '.join(argv[1:4])}: exit {result.returncode}: {' | '.join(tail)}")
    return result


@contextmanager
def serving_product_service(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "extracted.product_service",
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/readyz", timeout=2):  # noqa: S310 (our local service)
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise DrillError(f"the Product service did not start (log: {log})") from None
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def restore_drill(
    *, products: int, users: int, orders: int, server: str, workdir: Path, step=print
) -> DrillResult:
    tag = uuid.uuid4().hex[:8]
    admin = f"{server}/postgres"
    names = {"techstore": f"drill_techstore_{tag}", "product": f"drill_product_{tag}",
             "restored": f"drill_product_restored_{tag}"}  # fmt: skip
    urls = {key: f"{server}/{name}" for key, name in names.items()}
    result = DrillResult(products=products)
    base = {k: v for k, v in os.environ.items() if not k.endswith("_URL")}
    base.update(STRANGLER_VAR_DIR=str(workdir / "var"), FAST_PASSWORD_HASHER="true", DEBUG="true")
    monolith = {**base, "DATABASE_URL": urls["techstore"], "SHADOW_DATABASE_URL": urls["techstore"]}
    service = {**base, "CATALOG_STORE_URL": "orm", "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prom")}
    clock = time.perf_counter()

    def timed(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.steps[name] = round(now - clock, 2)
        clock = now
        step(name)

    count_sql = "SELECT count(*) FROM product_service_catalogproduct"
    try:
        for key in ("techstore", "product", "restored"):
            _psql(admin, f"CREATE DATABASE {names[key]}")
        _run(["python", "manage.py", "migrate", "--noinput", "-v0"], monolith)
        _run(["python", "-m", "extracted.product_service", "migrate", "--noinput", "-v0"],
             {**service, "PRODUCT_DATABASE_URL": urls["product"]})  # fmt: skip
        _run(["python", "manage.py", "seed_techstore", "--products", str(products), "--users", str(users),
              "--orders", str(orders), "--no-progress", "--json"], monolith)  # fmt: skip
        timed("seed")
        source = {**service, "PRODUCT_DATABASE_URL": urls["product"]}
        with serving_product_service(source, workdir / "product-service.log") as url:
            _run(["python", "manage.py", "sync", "products", "backfill", "--no-progress", "--json"],
                 {**monolith, "PRODUCT_SERVICE_URL": url})  # fmt: skip
        result.rows_before = int(_psql(urls["product"], count_sql))
        timed("backfill")
        backups = workdir / "backups"
        sources = {"BACKUP_TECHSTORE_URL": urls["techstore"], "BACKUP_PRODUCT_URL": urls["product"]}
        done = _run(
            ["python", "-m", "deploy.backup", "run", "--dir", str(backups), "--json"], {**base, **sources}
        )
        backup = json.loads(done.stdout.strip().splitlines()[-1])
        result.backup_bytes = sum(f["bytes"] for f in backup["files"])
        timed("backup")
        _psql(admin, f"DROP DATABASE {names['product']} WITH (FORCE)")  # the loss
        timed("destroy")
        backup_set = str(backups / backup["set"])
        _run(["python", "-m", "deploy.backup", "restore", backup_set, "--database", "product",
              "--into", urls["restored"], "--json"], base)  # fmt: skip
        result.rows_after = int(_psql(urls["restored"], count_sql))
        timed("restore")
        restored = {**service, "PRODUCT_DATABASE_URL": urls["restored"]}
        with serving_product_service(restored, workdir / "product-service.log") as url:
            verify = _run(["python", "manage.py", "sync", "products", "verify", "--format", "json"],
                          {**monolith, "PRODUCT_SERVICE_URL": url}, ok=(0, 1))  # fmt: skip
        report = json.loads(verify.stdout[verify.stdout.index("{") :])
        result.differences = _differences(report)
        timed("verify")
    finally:
        for name in names.values():
            with suppress(DrillError):
                _psql(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return result


def _differences(report: dict) -> int:
    return int(report["differences"])


def _announce(name: str) -> None:
    print(f"drill: {name} done", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.drill", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="drill", required=True)
    restore = sub.add_parser("restore", help="back up, destroy, restore, verify")
    restore.add_argument("--products", type=int, default=100_000)
    restore.add_argument("--users", type=int, default=200)
    restore.add_argument("--orders", type=int, default=500)
    restore.add_argument("--json", action="store_true")
    restore.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    url = (
        os.environ.get("DRILL_DATABASE_URL")
        or os.environ.get("DATABASE_URL")
        or "postgres://postgres@127.0.0.1:5432/x"
    )
    server = url.rsplit("/", 1)[0]
    quiet = args.json or args.no_progress
    try:
        with tempfile.TemporaryDirectory(prefix="restore-drill-") as tmp:
            result = restore_drill(
                products=args.products,
                users=args.users,
                orders=args.orders,
                server=server,
                workdir=Path(tmp),
                step=(lambda name: None) if quiet else _announce,
            )
    except DrillError as exc:
        print(f"drill restore: {exc}", file=sys.stderr)
        return 2
    out = ROOT / "var" / "drill"
    out.mkdir(parents=True, exist_ok=True)
    (out / "restore.json").write_text(json.dumps(result.as_dict(), indent=1))
    if not args.json:
        from rich.console import Console
        from rich.table import Table

        table = Table("step", "seconds", title=f"restore drill, {result.products} products")
        for name, seconds in result.steps.items():
            table.add_row(name, f"{seconds:.1f}")
        Console().print(table)
        verdict = "PASSED" if result.passed else "FAILED"
        print(f"rows before {result.rows_before}, after {result.rows_after}; "
              f"differences {result.differences}; {verdict} (var/drill/restore.json)")  # fmt: skip
    print(json.dumps(result.as_dict()))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
