"""`make demo` as a newcomer runs it: the whole strangler migration in the embedded profile (SQLite, no
servers), from a fresh directory, ending with the shadow report written where the terminal says."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PHASES = (
    "1. the monolith and the gateway",
    "2. the shopping journey through the gateway, every flag off",
    "3. the Product service: backfill and verify",
    "4. route.catalog.read: 0 -> 50 -> 100 %",
    "5. shadow: catalog.detail mirrored to a candidate",
    "6. rollback: flags kill",
)


def test_the_demo_strangles_a_route_shadows_one_rolls_back_and_writes_the_report(tmp_path):
    var_dir = tmp_path / "demo"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"}  # nothing of the test's own
    done = subprocess.run(
        [sys.executable, "-m", "legacy_monolith.demo", "--var-dir", str(var_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for phase in PHASES:
        assert phase in done.stdout
    assert "verify: differences" in done.stdout
    report = var_dir / "shadow-report.html"
    assert f"shadow report: {report}" in done.stdout.replace("\n", "")
    assert "catalog.detail" in report.read_text()
    assert "body.price" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
