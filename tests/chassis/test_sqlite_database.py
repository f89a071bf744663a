"""The embedded profile's SQLite (chassis.settings.database_config): WAL, a busy timeout and IMMEDIATE
write transactions, so concurrent read-then-write transactions (checkout's pattern) wait for the lock
instead of failing with `database is locked` (2 of 10 `make demo` runs failed so under load). Real Django
processes on a real SQLite file; the same workload on Django's defaults shows the failure."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chassis.settings import database_config
from contracts.cli import EnvironmentUnusable

REPO = Path(__file__).resolve().parents[2]
WORKLOAD = r"""
import json, sys, threading
import django
from django.conf import settings
database = json.loads(sys.argv[1])
settings.configure(DATABASES={"default": database}, INSTALLED_APPS=[], USE_TZ=True)
django.setup()
from django.db import connection, transaction
with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS stock (id INTEGER PRIMARY KEY, level INTEGER)")
    c.execute("INSERT OR IGNORE INTO stock VALUES (1, 0)")
errors = []
def checkout():
    from django.db import connection
    for _ in range(25):
        try:
            with transaction.atomic():
                with connection.cursor() as c:
                    c.execute("SELECT level FROM stock WHERE id = 1")
                    level = c.fetchone()[0]
                    c.execute("UPDATE stock SET level = %s WHERE id = 1", [level + 1])
        except Exception as exc:
            errors.append(str(exc))
    connection.close()
threads = [threading.Thread(target=checkout) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
with connection.cursor() as c:
    c.execute("SELECT level FROM stock WHERE id = 1")
    print(json.dumps({"errors": errors[:3], "failed": len(errors), "level": c.fetchone()[0]}))
"""


def run_workload(database: dict) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKLOAD, json.dumps(database)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_concurrent_read_then_write_transactions_all_commit(tmp_path):
    database = database_config("DATABASE_URL", f"sqlite:///{tmp_path / 'demo.sqlite3'}")

    outcome = run_workload(database)

    assert outcome == {"errors": [], "failed": 0, "level": 8 * 25}
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]


def test_django_defaults_fail_the_same_workload_with_database_is_locked(tmp_path):
    database = database_config("DATABASE_URL", f"sqlite:///{tmp_path / 'plain.sqlite3'}")
    database["OPTIONS"] = {"timeout": 0.05}  # Django's DEFERRED transactions, a short busy wait

    outcome = run_workload(database)

    assert outcome["failed"] > 0
    assert "database is locked" in outcome["errors"][0]


@pytest.mark.parametrize("url", ["foo://x", "mysql2", "http://db.example/x"])
def test_a_url_that_is_not_a_database_url_is_refused_by_its_setting_name(url):
    with pytest.raises(EnvironmentUnusable) as caught:
        database_config("PRODUCT_DATABASE_URL", url)

    assert caught.value.code == "invalid_setting"
    assert caught.value.message.startswith("PRODUCT_DATABASE_URL: ")
