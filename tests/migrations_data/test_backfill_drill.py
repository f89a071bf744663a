"""DRILL: `manage.py sync products backfill` killed with SIGKILL midway resumes after its checkpoint,
and `sync products verify` then finds 0 differences. Real processes: the monolith's command on its own
throwaway database, a REAL Product service."""

import json
import os
import signal
import subprocess
import time

import psycopg2
import pytest

from legacy_monolith.demo.processes import REPO_ROOT, manage, python_argv
from tests.e2e.databases import throwaway_database

pytestmark = pytest.mark.e2e

PRODUCTS = 4000
BATCH = 40
KILL_AFTER_ROWS = 400


@pytest.fixture(scope="module")
def monolith_env(product_service, tmp_path_factory):
    with throwaway_database("techstore_drill") as database_url:
        env = {
            "DATABASE_URL": database_url,
            "STRANGLER_VAR_DIR": str(tmp_path_factory.mktemp("drill-var")),
            "PRODUCT_SERVICE_URL": product_service.url,
            "INTERNAL_API_TOKEN": product_service.token,
            "LOG_LEVEL": "WARNING",
        }
        manage("migrate", "--noinput", env=env)
        seed = ("--users", "1", "--products", str(PRODUCTS), "--orders", "0", "--seed", "5", "--no-progress")
        manage("seed_techstore", *seed, env=env)
        yield env


def checkpoint(database_url: str) -> tuple[int, int, bool] | None:
    """(last id, rows done, finished) of the products backfill, read from the monolith's database."""
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT position, rows_done, finished_at IS NOT NULL FROM migrations_data_synccheckpoint "
            "WHERE name = 'products.backfill'"
        )
        row = cur.fetchone()
    conn.close()
    return None if row is None else (int(row[0].get("last_id", 0)), row[1], row[2])


def test_a_backfill_killed_midway_resumes_after_its_checkpoint_and_verifies_clean(monolith_env):
    argv = python_argv(
        "manage.py", "sync", "products", "backfill", "--batch-size", str(BATCH), "--no-progress"
    )
    run = subprocess.Popen(
        argv, cwd=REPO_ROOT, env={**os.environ, **monolith_env}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        while run.poll() is None:
            seen = checkpoint(monolith_env["DATABASE_URL"])
            if seen and seen[1] >= KILL_AFTER_ROWS:
                os.killpg(run.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        run.wait()
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == -signal.SIGKILL, "the backfill ended before the drill could kill it"
    last_id, rows_done, finished = checkpoint(monolith_env["DATABASE_URL"])
    assert not finished
    assert KILL_AFTER_ROWS <= rows_done < PRODUCTS

    resumed = manage("sync", "products", "backfill", "--batch-size", str(BATCH), "--json", env=monolith_env)

    products = json.loads(resumed.stdout)["backfill"][1]
    assert products["resumed_from_id"] == last_id
    assert products["rows"] == PRODUCTS - rows_done
    verified = manage("sync", "products", "verify", "--format", "json", env=monolith_env)  # exit 0
    report = json.loads(verified.stdout)
    assert (report["differences"], report["source_rows"], report["target_rows"]) == (0, PRODUCTS, PRODUCTS)
