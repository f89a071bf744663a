"""A 10-second smoke of a stage's locust suite, headless, as `make load` runs it: the monolith (gunicorn) with
its seed and the sandbox, the gateway in front, 5 seeded shoppers browsing, searching, filling carts,
checking out, logging in; no request may fail. Nothing asserts on speed."""

import json
import os
import subprocess
import sys

import pytest

from legacy_monolith.demo.stack import running_stack
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.strangler_proxy.conftest import REPO, start_gateway, write_flags_file

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shop(e2e_database_url, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("load-smoke")
    flags = {
        "FLAGS_FILE": str(write_flags_file(tmp / "flags.json")),
        "FLAGS_AUDIT_LOG": str(tmp / "audit.log"),
    }
    seed = ("--users", "10", "--products", "200", "--orders", "0", "--seed", "3")
    with running_stack(database_url=e2e_database_url, var_dir=tmp / "stack", seed_args=seed) as stack:
        gateway = start_gateway(
            log_path=tmp / "gateway.log",
            routes_yaml=DEFAULT_ROUTES,
            legacy_url=stack.monolith_url,
            env={**flags, "MONOLITH_URL": stack.monolith_url},
        )
        try:
            yield stack, gateway, tmp
        finally:
            gateway.stop()


def test_a_ten_second_run_of_the_gateway_stage_fails_no_request(shop):
    stack, gateway, _ = shop
    argv = ["--stage", "1", "--users", "5", "--duration", "10s", "--host", gateway.url, "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "load", *argv],
        cwd=REPO,
        env={**os.environ, **stack.env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0, summary["failure_samples"]
    assert summary["requests"] > 0
    names = {row["name"] for row in summary["by_name"]}
    assert "login" in names  # every shopper logs in first (with the seed's credentials)
    assert names & {"categories", "products page", "search"}
    report = os.path.join(summary["report_dir"], "report.html")
    assert os.path.getsize(report) > 1000


def test_an_unknown_stage_is_refused_with_one_line():
    result = subprocess.run([sys.executable, "-m", "load", "--stage", "9"], cwd=REPO, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("load: no locustfile for stage '9' (known: stage1_gateway")
