"""Saga outcomes as stage evidence, with real processes: the whole orders stack (monolith, sandbox, RabbitMQ,
the Order service with its consumers, relay, worker and beat), a throwaway control database, and the
rollout controller (`manage.py rollout run`) reading the Order service's /metrics; as traffic, the stage-5
locust suite's shoppers checking out through the gateway. The payments stage's flag (route.payments.charge,
read by the Order service, not routed by the gateway) is rolled out and judged by its saga outcomes alone:
promoted while checkouts complete, rolled back when they end compensated (declined cards), and with no Order
service answering the controller carries on without them and says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

from flags.audit import AuditLog
from flags.commands.toggle import flag_toggle
from flags.config import FlagsConfig
from flags.store import open_store
from legacy_monolith.demo.processes import REPO_ROOT, free_port, stop_process_group
from legacy_monolith.demo.saga_invariants import check_saga_invariants
from legacy_monolith.demo.services import throwaway_database
from load.traffic import SuiteTraffic
from tests.background import wait_until
from tests.e2e.order_stack import (
    APPROVED,
    DECLINED,
    NO_VELOCITY_LIMITS,
    orders_gateway,
    running_orders_stack,
    saga_traffic,
)
from tests.strangler_proxy.conftest import write_flags_file

pytestmark = pytest.mark.e2e

ROUTE = FLAG = "route.payments.charge"  # a rollout of a service-read flag is named after the flag
POLICY = """
defaults:
  settle: 1s
flags:
  route.payments.charge:
    saga: {max_compensated: 0.25, max_stuck: 0, min_sagas: 3}
"""


@pytest.fixture(scope="module")
def orders(e2e_database_url, tmp_path_factory):
    with running_orders_stack(
        database_url=e2e_database_url,
        var_dir=tmp_path_factory.mktemp("saga-stage"),
        monolith_env=NO_VELOCITY_LIMITS,  # approved cards stay approved however long the judging takes
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def gateway(orders, tmp_path_factory):
    with orders_gateway(orders, tmp_path_factory.mktemp("saga-gateway")) as running:
        yield running


@pytest.fixture(scope="module")
def control(orders, tmp_path_factory):
    """The control side: its database, a flags file of its own (the Order service keeps reading its own, so
    the rollout changes no payment backend here), the policy, and the environment of its commands."""
    tmp = tmp_path_factory.mktemp("saga-control")
    (tmp / "policy.yaml").write_text(POLICY)
    with throwaway_database("control_sagas") as control_url:
        env = {
            **os.environ,
            "CONTROL_DATABASE_URL": control_url,
            "FLAGS_FILE": str(write_flags_file(tmp / "flags.json")),
            "FLAGS_AUDIT_LOG": str(tmp / "flags-audit.log"),
            "ROLLOUT_POLICY_FILE": str(tmp / "policy.yaml"),
            "ORDER_METRICS_URLS": f"{orders.orders.url}/metrics",
            "STRANGLER_VAR_DIR": str(tmp),
            "LOG_LEVEL": "WARNING",
        }
        manage(env, "migrate", "--database", "control", "--noinput")
        yield env


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def controller(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "manage.py", "rollout", "run", "--interval", "0.2", "--lease", "2"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def latest(env: dict) -> dict:
    with (
        psycopg2.connect(env["CONTROL_DATABASE_URL"]) as conn,
        conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur,
    ):
        cur.execute("SELECT * FROM control_rollout WHERE route = %s ORDER BY id DESC LIMIT 1", [ROUTE])
        row = cur.fetchone()
        if row is None:
            return {}
        cur.execute(
            "SELECT kind, action, percentage, evidence FROM control_rolloutevent WHERE rollout_id = %s "
            "ORDER BY at, id",
            [row["id"]],
        )
        events = [dict(e) for e in cur.fetchall()]
    conn.close()
    return {**row, "events": events}


def wait_until_done(env: dict, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = latest(env)
        if state["state"] != "running":
            return state
        time.sleep(0.5)
    raise AssertionError(f"the rollout did not end: {json.dumps(latest(env), default=str)[:3000]}")


def checkouts(orders, gateway_url: str, card: str, folder: Path) -> SuiteTraffic:
    """Three customers shopping through the gateway with the stage-5 locust suite (browse, fill a cart, check
    out with `card`), each as fast as its answers come, until stopped: `with checkouts(...) as traffic`."""
    tokens = [f"Token {customer.token}" for customer in orders.customers[:3]]
    return SuiteTraffic(stage="5", host=gateway_url, rate=15.0, users=3, folder=folder, tokens=tokens,
                        env={"LOAD_CARD_NUMBER": card})  # fmt: skip


def checkout_statuses(traffic: SuiteTraffic) -> set[int]:
    return {e.status for e in traffic.exchanges() if e.name == "checkout"}


def reset_flag(env: dict) -> None:
    config = FlagsConfig.from_env(env)
    flag_toggle(open_store(config), AuditLog.from_config(config), name=FLAG, enabled=False, actor="e2e-reset")


def test_the_payments_flag_is_promoted_while_checkouts_complete_and_rolled_back_when_they_compensate(
    orders, gateway, control, tmp_path
):
    process = controller(control, tmp_path / "controller.log")
    try:
        manage(control, "rollout", "start", ROUTE, "--steps", "10,100", "--step-time", "5s")
        with checkouts(orders, gateway.url, APPROVED, tmp_path / "approved") as healthy:
            promoted = wait_until_done(control, timeout=240)
        assert promoted["state"] == "promoted", promoted
        assert 201 in checkout_statuses(healthy)
        (decision,) = [e for e in promoted["events"] if e["kind"] == "decision"]
        saga = decision["evidence"]["saga"]
        assert saga["completed"] >= 3
        assert saga["compensated"] == 0
        assert decision["evidence"]["gateway"].startswith("none")

        reset_flag(control)
        manage(control, "rollout", "start", ROUTE, "--steps", "10,100", "--step-time", "120s")
        with checkouts(orders, gateway.url, DECLINED, tmp_path / "declined") as failing:
            rolled = wait_until_done(control, timeout=240)
        assert rolled["state"] == "rolled_back", rolled
        assert 402 in checkout_statuses(failing)
        assert rolled["reason"].startswith("sagas compensated 100.00% (")
        audit = [json.loads(line) for line in Path(control["FLAGS_AUDIT_LOG"]).read_text().splitlines()]
        off = [e for e in audit if e["action"] == "off" and e["who"] == "rollout-controller"]
        assert off[-1]["note"]["evidence"]["saga"]["compensated"] >= 1
    finally:
        stop_process_group(process, 5)


def test_without_an_order_service_answering_the_stage_is_judged_without_saga_evidence(control, tmp_path):
    env = {**control, "ORDER_METRICS_URLS": f"http://127.0.0.1:{free_port()}/metrics"}
    if latest(env).get("state") == "rolled_back":
        manage(env, "rollout", "close", ROUTE, "--reason", "the next scenario")
    reset_flag(env)
    process = controller(env, tmp_path / "controller.log")
    try:
        manage(env, "rollout", "start", ROUTE, "--steps", "50,100", "--step-time", "3s")
        done = wait_until_done(env, timeout=120)
    finally:
        stop_process_group(process, 5)
    assert done["state"] == "promoted", done
    (decision,) = [e for e in done["events"] if e["kind"] == "decision"]
    assert "does not answer" in decision["evidence"]["saga"]["absent"]


def test_the_saga_drills_traffic_makes_one_order_per_accepted_checkout(orders, gateway, tmp_path):
    """The traffic of tests/e2e/test_saga_drill.py (which stops RabbitMQ, so is not run here) at a small size:
    the stage-4 suite's asynchronous checkouts through the gateway; each 202 is one order of the Order
    service, every saga finishes, and the saga invariants hold."""

    def invariants(grace: float = 30.0):
        return check_saga_invariants(
            order_database_url=orders.orders.database_url,
            monolith_database_url=orders.stack.env["DATABASE_URL"],
            sandbox_url=orders.stack.sandbox_url,
            grace_seconds=grace,
        )

    before = invariants().orders
    with saga_traffic(orders, gateway.url, tmp_path / "load", customers=3) as traffic:
        wait_until(
            lambda: sum(1 for e in traffic.exchanges() if e.name == "checkout v2") >= 8, "checkouts", 300
        )
    statuses = [e.status for e in traffic.exchanges() if e.name == "checkout v2"]
    assert 202 in statuses, traffic.counts()
    assert not [e for e in traffic.exchanges() if e.status == 0 or e.status >= 500], traffic.counts()

    def finished() -> bool:
        report = invariants()
        return report.orders and not [v for v in report.violations if "not finished" in v]

    wait_until(finished, "every saga to finish", 300)
    report = invariants(grace=240.0)
    assert report.ok, report.violations[:20]
    assert report.orders - before == statuses.count(202)
