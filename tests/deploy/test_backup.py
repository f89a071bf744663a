"""Backups for real: pg_dump of PostgreSQL databases and the broker's definitions from RabbitMQ's management
API, checksummed sets, retention, restore into a fresh database; and the restore drill, small (make
drill-restore runs it at full size)."""

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy import backup

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/techstore").rsplit("/", 1)[0]
RABBITMQ = os.environ.get("RABBITMQ_MANAGEMENT_URL", "http://guest:guest@127.0.0.1:15672")


def psql(url, sql):
    return subprocess.run(
        ["psql", url, "-tAqc", sql], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def database():
    names = []

    def make(rows: int = 0) -> str:
        name = f"backup_test_{uuid.uuid4().hex[:8]}"
        names.append(name)
        psql(f"{SERVER}/postgres", f"CREATE DATABASE {name}")
        url = f"{SERVER}/{name}"
        if rows:
            psql(url, "CREATE TABLE item (id int PRIMARY KEY, name text, price numeric(10,2))")
            psql(url, f"INSERT INTO item SELECT g, 'item ' || g, g * 1.25 FROM generate_series(1, {rows}) g")
        return url

    yield make
    for name in names:
        psql(f"{SERVER}/postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_backup_set_holds_every_database_and_the_broker_definitions_and_restores(database, tmp_path):
    source = database(rows=500)
    env = {"BACKUP_SHOP_URL": source, "BACKUP_RABBITMQ_URL": RABBITMQ}
    result = backup.backup_run(tmp_path, env)
    names = {f.name for f in result.files}
    assert names == {"shop.dump", "rabbitmq-definitions.json"}
    backup_set = tmp_path / result.set
    definitions = json.loads((backup_set / "rabbitmq-definitions.json").read_text())
    assert {"exchanges", "queues", "bindings", "users"} <= set(definitions)
    manifest = json.loads((backup_set / "manifest.json").read_text())
    assert "guest" not in json.dumps(manifest["sources"])  # no credentials in the manifest
    assert backup.backup_verify(backup_set) == []

    fresh = database()
    backup.backup_restore(backup_set, database="shop", into=fresh)
    query = "SELECT count(*), sum(price), md5(string_agg(name, ',' ORDER BY id)) FROM item"
    assert psql(fresh, query) == psql(source, query)


def test_a_tampered_set_is_refused_before_anything_is_restored(database, tmp_path):
    result = backup.backup_run(tmp_path, {"BACKUP_SHOP_URL": database(rows=10)})
    backup_set = tmp_path / result.set
    with (backup_set / "shop.dump").open("ab") as handle:
        handle.write(b"x")
    assert backup.backup_verify(backup_set) == ["shop.dump: checksum differs from the manifest"]
    fresh = database()
    with pytest.raises(backup.BackupError, match="not intact"):
        backup.backup_restore(backup_set, database="shop", into=fresh)
    assert psql(fresh, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == "0"


def test_a_failed_backup_leaves_no_set_that_looks_complete(database, tmp_path):
    env = {"BACKUP_A_URL": database(rows=5), "BACKUP_B_URL": f"{SERVER}/no_such_db_{uuid.uuid4().hex[:6]}"}
    with pytest.raises(backup.BackupError, match="pg_dump"):
        backup.backup_run(tmp_path, env)
    assert backup.backup_sets(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_retention_deletes_old_sets_but_always_keeps_the_newest(tmp_path):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    for days in (1, 3, 10, 20, 30):
        folder = tmp_path / (now - timedelta(days=days)).strftime(backup.STAMP)
        folder.mkdir()
        (folder / "manifest.json").write_text("{}")
    (tmp_path / ".20260101T000000Z.partial").mkdir()  # an interrupted run: not a set
    deleted = backup.retention_apply(tmp_path, keep_days=7, keep=3, now=now)
    assert len(deleted) == 2  # 30 and 20 days old; the 10-day-old one is among the 3 newest
    assert [p.name for p in backup.backup_sets(tmp_path)] == sorted(
        (now - timedelta(days=d)).strftime(backup.STAMP) for d in (1, 3, 10)
    )


def test_the_command_exits_2_with_one_line_when_there_is_nothing_to_back_up(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKUP_")}
    result = subprocess.run([sys.executable, "-m", "deploy.backup", "run", "--dir", str(tmp_path)], env=env,
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert (result.returncode, result.stderr) == (
        2,
        "backup: nothing to back up: no BACKUP_<NAME>_URL is set\n",
    )


def test_the_restore_drill_backs_up_destroys_restores_and_verifies_zero_differences():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy.drill",
            "restore",
            "--products",
            "300",
            "--users",
            "5",
            "--orders",
            "5",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["passed"]
    assert report["differences"] == 0
    assert report["rows_before"] == report["rows_after"] == 300
