"""schemathesis `--checks all` against the monolith's OpenAPI schema, served by the real monolith under
gunicorn on a throwaway PostgreSQL database, as a staff user: every answer must match the schema (status,
body, headers, content type) and no request may get a 5xx, except the allow-list in
tests/e2e/schemathesis.toml (each entry with its reason). Few examples per operation and a fixed seed.

Not covered yet (issue 12): the Product and Auth services' schemas, and the same runs through the gateway.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from legacy_monolith.demo.__main__ import DEMO_STAFF
from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
ST = str(Path(sys.executable).with_name("st"))


@pytest.fixture(scope="module")
def monolith(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("schemathesis")
    seed = ("--users", "5", "--products", "40", "--orders", "5", "--seed", "7")
    with running_stack(database_url=e2e_database_url, var_dir=var_dir, seed_args=seed) as stack:
        # the status page's shadow report reads the comparator's store, as the deployment migrates it
        # (unmigrated, it answers 503 shadow_store_unavailable: tests/control/test_cockpit_page.py)
        manage("migrate", "--database", "shadow", "--noinput", env=stack.env)
        yield stack


def test_the_monolith_answers_as_its_schema_says(monolith, tmp_path):
    token = requests.post(
        f"{monolith.monolith_url}/api/v1/accounts/tokens",
        json={"username": DEMO_STAFF[0], "password": DEMO_STAFF[1]},
        timeout=15,
    ).json()["token"]
    done = subprocess.run(
        [
            ST, "--config-file", str(HERE / "schemathesis.toml"), "run",
            f"{monolith.monolith_url}/api/schema/?format=json", "--url", monolith.monolith_url,
            "-H", f"Authorization: Token {token}", "--max-examples", "3",
            "--seed", "12", "--workers", "2", "--no-color",
        ],
        cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}, capture_output=True, text=True, timeout=900,
        check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
