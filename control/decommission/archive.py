"""A retired module's tables kept as a file: pg_dump of exactly those tables (custom format, with their
indexes, constraints, triggers and owned sequences), a sha256 file beside it (`sha256sum -c` reads it),
pg_restore to bring them back, DROP TABLE once the archive has been checked.

The monolith's database is the `default` connection; the password goes to the tools through PGPASSWORD,
never on their command line."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from django.db import connections, transaction

from control.errors import ControlError

DATABASE = "default"  # the monolith's own database
TOOL_TIMEOUT = 600.0


class ArchiveError(ControlError):
    pass


class ArchiveCorrupt(ArchiveError):
    """The archive is missing or its checksum differs: finalize and restore refuse (a failed check)."""

    exit_code = 1


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str

    @property
    def checksum_path(self) -> Path:
        return checksum_file(self.path)


def checksum_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def archive_dir() -> Path:
    """DECOMMISSION_ARCHIVE_DIR, else <STRANGLER_VAR_DIR>/decommission."""
    explicit = os.environ.get("DECOMMISSION_ARCHIVE_DIR")
    if explicit:
        return Path(explicit)
    var_dir = os.environ.get("STRANGLER_VAR_DIR") or str(Path(__file__).resolve().parents[2] / "var")
    return Path(var_dir) / "decommission"


def _connection_arguments() -> tuple[list[str], dict[str, str]]:
    settings = connections[DATABASE].settings_dict
    if connections[DATABASE].vendor != "postgresql":
        raise ArchiveError(
            "archive_unsupported",
            f"the monolith's database is {connections[DATABASE].vendor}: tables are archived with pg_dump, "
            "from PostgreSQL only",
        )
    args = ["--dbname", settings["NAME"]]
    if settings.get("HOST"):
        args += ["--host", str(settings["HOST"])]
    if settings.get("PORT"):
        args += ["--port", str(settings["PORT"])]
    if settings.get("USER"):
        args += ["--username", str(settings["USER"])]
    env = {**os.environ}
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    return args, env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ArchiveError("tool_missing", f"{name} is not on PATH (the PostgreSQL client tools)")
    return found


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    try:
        done = subprocess.run(  # noqa: S603 - the PostgreSQL client tools, found on PATH; no shell
            argv, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise ArchiveError(
            f"{what}_failed", f"{Path(argv[0]).name} took longer than {TOOL_TIMEOUT:.0f} s"
        ) from None
    if done.returncode != 0:
        detail = " ".join((done.stderr or done.stdout).split())[:400]
        raise ArchiveError(f"{what}_failed", f"{Path(argv[0]).name} failed ({done.returncode}): {detail}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dump_tables(tables: list[str], path: Path) -> Archive:
    """pg_dump exactly `tables` (every one must exist) into `path`, then write `path`.sha256."""
    args, env = _connection_arguments()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    argv = [_tool("pg_dump"), *args, "--format=custom", "--no-owner", "--no-privileges", "--strict-names"]
    argv += [f"--table=public.{table}" for table in tables]
    _run([*argv, "--file", str(partial)], env, "archive")
    partial.replace(path)
    digest = sha256_of(path)
    checksum = checksum_file(path)
    checksum.write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return Archive(path, digest)


def check_archive(path: Path, expected: str) -> None:
    """The archive exists and both its sha256 file and `expected` (the record's) match its bytes."""
    if not path.is_file():
        raise ArchiveCorrupt("archive_missing", f"the archive {path} is missing")
    actual = sha256_of(path)
    try:
        written = checksum_file(path).read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError):
        raise ArchiveCorrupt(
            "archive_unchecked", f"the checksum file of {path} is missing or empty"
        ) from None
    if not (actual == written == expected):
        raise ArchiveCorrupt(
            "archive_corrupt",
            f"the archive {path} does not match its checksum (sha256 {actual[:12]}…, recorded "
            f"{expected[:12]}…, file {written[:12]}…)",
        )


def restore_tables(path: Path) -> None:
    """pg_restore the archive in one transaction, replacing the tables if they are there."""
    args, env = _connection_arguments()
    argv = [_tool("pg_restore"), *args, "--clean", "--if-exists", "--single-transaction", "--no-owner"]
    _run([*argv, "--no-privileges", "--exit-on-error", str(path)], env, "restore")


def existing_tables(tables: list[str]) -> list[str]:
    with connections[DATABASE].cursor() as cursor:
        present = set(connections[DATABASE].introspection.table_names(cursor))
    return [t for t in tables if t in present]


def drop_tables(tables: list[str]) -> list[str]:
    """DROP the tables that still exist, in one transaction, without CASCADE (a foreign key from a table
    still in use refuses the drop); the tables dropped."""
    present = existing_tables(tables)
    if not present:
        return []
    quote = connections[DATABASE].ops.quote_name
    with transaction.atomic(using=DATABASE), connections[DATABASE].cursor() as cursor:
        cursor.execute("DROP TABLE " + ", ".join(quote(t) for t in present))
    return present
