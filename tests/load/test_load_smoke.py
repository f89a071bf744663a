"""A 10-second smoke of a stage's locust suite, headless, as `make load` runs it: the monolith (gunicorn) with
its seed and the sandbox, the gateway in front, 5 seeded shoppers browsing, searching, filling carts,
checking out, logging in; no request may fail. Nothing asserts on speed."""

import contextlib
import json
import os
import subprocess
import sys

import pytest

from contracts.identity import DEV_INTERNAL_IDENTITY_KEY
from legacy_monolith.demo.processes import free_port, service_manage, service_process
from legacy_monolith.demo.services import throwaway_database
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


def run_stage(stage: str, gateway_url: str, env: dict[str, str], *, users: int, duration: str) -> dict:
    argv = ["--stage", stage, "--users", str(users), "--duration", duration, "--host", gateway_url, "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "load", *argv],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def running_notification_service(var_dir, monolith_url: str):
    """The Notification service (gunicorn) on a throwaway database; the customers' legacy tokens, forwarded by
    the gateway, are checked at the monolith."""
    with throwaway_database("notification_load") as database_url:
        env = {
            "NOTIFICATION_DATABASE_URL": database_url,
            "INTERNAL_IDENTITY_KEY": DEV_INTERNAL_IDENTITY_KEY,
            "MONOLITH_URL": monolith_url,
            "STRANGLER_VAR_DIR": str(var_dir),
            "PROMETHEUS_MULTIPROC_DIR": str(var_dir / "prometheus"),
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        service_manage("notification_service", "migrate", "--noinput", env=env)
        port = free_port()
        process = service_process(
            "notification_service", port=port, env=env, log_path=var_dir / "notification.log"
        )
        process.start(timeout=60)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            process.stop()


def test_a_short_run_of_the_notifications_stage_fails_no_request(shop):
    """Stage 6: the customers' notifications and preferences through the gateway's v2.notifications route to
    a real Notification service, with the shop's journey around them."""
    stack, _, tmp = shop
    flags = {"FLAGS_FILE": str(tmp / "flags.json"), "FLAGS_AUDIT_LOG": str(tmp / "audit.log")}
    with running_notification_service(tmp / "notification", stack.monolith_url) as notification_url:
        gateway = start_gateway(
            log_path=tmp / "gateway-stage6.log",
            routes_yaml=DEFAULT_ROUTES,
            legacy_url=stack.monolith_url,
            env={**flags, "MONOLITH_URL": stack.monolith_url, "NOTIFICATION_SERVICE_URL": notification_url},
        )
        try:
            # each shopper opens its notifications right after logging in (a busy machine may take seconds)
            summary = run_stage("6", gateway.url, stack.env, users=3, duration="20s")
        finally:
            gateway.stop()
    assert summary["failures"] == 0, summary["failure_samples"]
    counts = {row["name"]: row["requests"] for row in summary["by_name"]}
    assert counts.get("notifications", 0) > 0, counts  # answered 200: the token was checked at the monolith
    assert "login" in counts


def test_an_unknown_stage_is_refused_with_one_line():
    result = subprocess.run([sys.executable, "-m", "load", "--stage", "9"], cwd=REPO, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("load: no locustfile for stage '9' (known: stage1_gateway")
