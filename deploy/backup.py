"""Backups of every service database and of the broker's definitions, with retention, and their restore:

  python -m deploy.backup run --dir D [--keep-days 7] [--keep 14] [--every 24h] [--json]
  python -m deploy.backup verify SET [--json]
  python -m deploy.backup restore SET --database NAME --into URL [--json]

`run` writes one set D/<UTC stamp>/: `<name>.dump` (pg_dump custom format) for every BACKUP_<NAME>_URL
(postgres://) in the environment, `rabbitmq-definitions.json` from BACKUP_RABBITMQ_URL (the management API:
exchanges, queues, bindings, users, policies), and `manifest.json` with each file's size and sha256. A set is
built under a hidden name and renamed when complete, so a crash never leaves a set that looks whole. Then
retention: sets older than --keep-days are deleted, but the --keep newest always stay. `--every` repeats
(the compose service); the Kubernetes CronJob runs it once per schedule.
`restore` checks the set's checksums, then pg_restore's the database into URL (an empty database).
Exit codes: 0 ok, 1 a check failed (verify), 2 an error (one line on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

ENV_PATTERN = re.compile(r"^BACKUP_([A-Z0-9_]+)_URL$")
STAMP = "%Y%m%dT%H%M%SZ"
MANIFEST = "manifest.json"
BROKER_FILE = "rabbitmq-definitions.json"


class BackupError(Exception):
    pass


@dataclass
class BackupFile:
    name: str
    bytes: int
    sha256: str


@dataclass
class BackupResult:
    set: str
    files: list[BackupFile] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def sources(environ: Mapping[str, str]) -> dict[str, str]:
    """name -> URL of everything to back up (BACKUP_<NAME>_URL), in name order."""
    found = {}
    for key, value in environ.items():
        match = ENV_PATTERN.match(key)
        if match and value:
            found[match.group(1).lower()] = value
    return dict(sorted(found.items()))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, "", ""))


def _pg_env(url: str) -> tuple[list[str], dict[str, str]]:
    """pg_dump/pg_restore connection arguments without the password on the command line."""
    parts = urlsplit(url)
    env = {**os.environ}
    if parts.password:
        env["PGPASSWORD"] = parts.password
    args = ["--host", parts.hostname or "127.0.0.1", "--port", str(parts.port or 5432)]
    if parts.username:
        args += ["--username", parts.username]
    return [*args, "--dbname", parts.path.lstrip("/")], env


def dump_database(url: str, target: Path) -> None:
    args, env = _pg_env(url)
    result = subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", str(target), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_dump {_redact(url)}: {result.stderr.strip().splitlines()[-1:]}")


def export_broker(url: str, target: Path) -> None:
    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port or 15672}", "", "", ""))
    try:
        response = requests.get(
            f"{base}/api/definitions", auth=(parts.username or "", parts.password or ""), timeout=30
        )
        response.raise_for_status()
        definitions = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise BackupError(f"broker definitions from {base}: {exc}") from None
    target.write_text(json.dumps(definitions, indent=1, sort_keys=True))


def backup_run(directory: Path, environ: Mapping[str, str], *, now: datetime | None = None) -> BackupResult:
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    targets = sources(environ)
    if not targets:
        raise BackupError("nothing to back up: no BACKUP_<NAME>_URL is set")
    directory.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime(STAMP)
    partial = directory / f".{stamp}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    result = BackupResult(set=stamp)
    try:
        for name, url in targets.items():
            scheme = urlsplit(url).scheme
            if scheme in ("postgres", "postgresql"):
                path = partial / f"{name}.dump"
                dump_database(url, path)
            elif scheme in ("http", "https") and name == "rabbitmq":
                path = partial / BROKER_FILE
                export_broker(url, path)
            else:
                raise BackupError(f"BACKUP_{name.upper()}_URL: cannot back up a {scheme}:// URL")
            result.files.append(BackupFile(path.name, path.stat().st_size, _sha256(path)))
        manifest = {
            "set": stamp,
            "created_at": now.isoformat(),
            "sources": {name: _redact(url) for name, url in targets.items()},
            "files": [asdict(f) for f in result.files],
        }
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
        partial.rename(directory / stamp)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def backup_sets(directory: Path) -> list[Path]:
    """Complete sets, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        try:
            datetime.strptime(path.name, STAMP)
        except ValueError:
            continue
        if (path / MANIFEST).is_file():
            found.append(path)
    return sorted(found, key=lambda p: p.name)


def retention_apply(directory: Path, *, keep_days: int, keep: int, now: datetime | None = None) -> list[str]:
    """Delete sets older than keep_days, never one of the `keep` newest. Returns the deleted names."""
    now = now or datetime.now(UTC)
    sets = backup_sets(directory)
    protected = {p.name for p in sets[-keep:]} if keep > 0 else set()
    cutoff = now - timedelta(days=keep_days)
    deleted = []
    for path in sets:
        taken = datetime.strptime(path.name, STAMP).replace(tzinfo=UTC)
        if path.name not in protected and taken < cutoff:
            shutil.rmtree(path)
            deleted.append(path.name)
    return deleted


def backup_verify(backup_set: Path) -> list[str]:
    """Problems with a set: missing or altered files (empty list: intact)."""
    try:
        manifest = json.loads((backup_set / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        return [f"{backup_set}: no readable manifest ({exc})"]
    problems = []
    for entry in manifest["files"]:
        path = backup_set / entry["name"]
        if not path.is_file():
            problems.append(f"{entry['name']}: missing")
        elif path.stat().st_size != entry["bytes"] or _sha256(path) != entry["sha256"]:
            problems.append(f"{entry['name']}: checksum differs from the manifest")
    return problems


def backup_restore(backup_set: Path, *, database: str, into: str) -> dict:
    problems = backup_verify(backup_set)
    if problems:
        raise BackupError(f"{backup_set.name} is not intact: {'; '.join(problems)}")
    dump = backup_set / f"{database}.dump"
    if not dump.is_file():
        raise BackupError(f"{backup_set.name} has no backup of {database!r}")
    args, env = _pg_env(into)
    started = time.perf_counter()
    result = subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            *args,
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"pg_restore into {_redact(into)}: {result.stderr.strip().splitlines()[-1:]}")
    return {"set": backup_set.name, "database": database, "into": _redact(into),
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def parse_period(text: str) -> float:
    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a period like 30m, 6h or 1d")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.backup", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="back up every BACKUP_<NAME>_URL, then apply retention")
    run.add_argument("--dir", type=Path, required=True)
    run.add_argument("--keep-days", type=int, default=7)
    run.add_argument("--keep", type=int, default=14, help="the newest sets kept whatever their age")
    run.add_argument("--every", type=parse_period, default=None, help="repeat with this period")
    verify = sub.add_parser("verify", help="check a set against its manifest")
    verify.add_argument("set", type=Path)
    restore = sub.add_parser("restore", help="pg_restore one database of a set into an empty database")
    restore.add_argument("set", type=Path)
    restore.add_argument("--database", required=True)
    restore.add_argument("--into", required=True, help="postgres:// URL of the (empty) target database")
    for p in (run, verify, restore):
        p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "verify":
            problems = backup_verify(args.set)
            print(json.dumps({"ok": not problems, "problems": problems}) if args.json else
                  "\n".join(problems) or f"{args.set.name}: intact")  # fmt: skip
            return 1 if problems else 0
        if args.command == "restore":
            done = backup_restore(args.set, database=args.database, into=args.into)
            print(json.dumps(done) if args.json else f"restored {done['database']} from {done['set']}")
            return 0
        while True:
            try:
                result = backup_run(args.dir, os.environ)
                result.deleted = retention_apply(args.dir, keep_days=args.keep_days, keep=args.keep)
            except BackupError as exc:
                if args.every is None:
                    raise
                print(f"backup: {exc} (next try in {args.every:.0f}s)", file=sys.stderr, flush=True)
            else:
                print(json.dumps(result.as_dict()) if args.json else
                      f"backup {result.set}: {len(result.files)} files, "
                      f"{sum(f.bytes for f in result.files)} bytes in {result.seconds}s; "
                      f"deleted {len(result.deleted)} old sets", flush=True)  # fmt: skip
            if args.every is None:
                return 0
            time.sleep(args.every)
    except BackupError as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
