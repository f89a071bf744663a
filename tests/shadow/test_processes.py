"""The real commands in child processes: `migrate --database shadow`, the worker, and the gate's exit codes
as a runbook sees them (0 promote, 1 not yet with one line why, 2 error)."""

import os
import subprocess

import pytest

from legacy_monolith.demo.processes import REPO_ROOT, manage, python_argv
from shadow.transport import FileQueueWriter
from tests.shadow.builders import answer, make_pair


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {
        "STRANGLER_VAR_DIR": str(tmp_path),
        "SHADOW_DATABASE_URL": f"sqlite:///{tmp_path / 'shadow.sqlite3'}",
        "SHADOW_QUEUE_URL": f"file://{tmp_path / 'queue'}",
    }


def gate(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        python_argv("manage.py", "shadow", "gate", "catalog.read", *args),
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_gate_exit_codes_of_the_real_command(env, tmp_path):
    manage("migrate", "--database", "shadow", "--noinput", env=env)
    writer = FileQueueWriter(tmp_path / "queue")
    for n in range(100):
        price = "1.0" if n % 50 == 0 else "1.00"
        writer.publish(make_pair(answer({"price": "1.00"}), answer({"price": price})))
    writer.close()
    manage("shadow", "worker", "--once", "--idle-timeout", "0.2", "--no-progress", env=env)

    passed = gate(env, "--min-match", "98", "--min-samples", "100")
    failed = gate(env, "--min-match", "99.9", "--min-samples", "100")
    error = gate(env, "--min-match", "150", "--min-samples", "100")

    assert passed.returncode == 0
    assert passed.stdout == "PASS: route catalog.read: match rate 98.000% >= 98.0% over 100 samples\n"
    assert failed.returncode == 1
    assert failed.stdout.count("\n") == 1
    assert failed.stdout.startswith("FAIL: route catalog.read: match rate 98.000% is below 99.9%")
    assert error.returncode == 2
    assert "--min-match must be a percentage from 0 to 100" in error.stderr


def test_a_database_without_the_comparator_tables_is_an_error_that_says_what_to_run(env):
    result = gate(env, "--min-match", "99", "--min-samples", "1")

    assert result.returncode == 2
    assert "run `manage.py migrate --database shadow`" in result.stderr
