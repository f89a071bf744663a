"""Saga outcomes as stage evidence, with real processes: the whole orders stack (monolith, sandbox, RabbitMQ,
the Order service with its consumers, relay, worker and beat), a throwaway control database, and the
rollout controller (`manage.py rollout run`) reading the Order service's /metrics. The payments stage's flag
(route.payments.charge, read by the Order service, not routed by the gateway) is rolled out and judged by
its saga outcomes alone: promoted while checkouts complete, rolled back when they end compensated (declined
cards), and with no Order service answering the controller carries on without them and says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extras
import pytest

from flags.audit import AuditLog
from flags.commands.toggle import flag_toggle
from flags.config import FlagsConfig
from flags.store import open_store
from legacy_monolith.demo.processes import REPO_ROOT, free_port, stop_process_group
from legacy_monolith.demo.services import throwaway_database
from tests.e2e.order_stack import APPROVED, DECLINED, NO_VELOCITY_LIMITS, checkout_body, running_orders_stack
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


class Checkouts:
    """Customers checking out one unit each, over and over, with one card, until stopped."""

    def __init__(self, orders, card: str) -> None:
        self.orders, self.card = orders, card
        self.stop = threading.Event()
        self.outcomes: list[int] = []
        self.threads = [threading.Thread(target=self._loop, args=(n,), daemon=True) for n in range(3)]

    def __enter__(self) -> Checkouts:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def _loop(self, n: int) -> None:
        customer = self.orders.customers[n]
        session = customer.session(self.orders.orders.url)
        base = self.orders.orders.url
        products = [p[0] for p in self.orders.products[n::3]]  # spread over products: stock lasts
        count = 0
        while not self.stop.is_set():
            product_id = products[count % len(products)]
            count += 1
            session.delete(f"{base}/api/v1/orders/cart", timeout=30)
            session.post(
                f"{base}/api/v1/orders/cart/items", json={"product_id": product_id, "quantity": 1}, timeout=30
            )
            answer = session.post(
                f"{base}/api/v1/orders/checkout",
                json=checkout_body(self.card),
                headers={"Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )
            self.outcomes.append(answer.status_code)


def reset_flag(env: dict) -> None:
    config = FlagsConfig.from_env(env)
    flag_toggle(open_store(config), AuditLog.from_config(config), name=FLAG, enabled=False, actor="e2e-reset")


def test_the_payments_flag_is_promoted_while_checkouts_complete_and_rolled_back_when_they_compensate(
    orders, control, tmp_path
):
    process = controller(control, tmp_path / "controller.log")
    try:
        manage(control, "rollout", "start", ROUTE, "--steps", "10,100", "--step-time", "5s")
        with Checkouts(orders, APPROVED) as healthy:
            promoted = wait_until_done(control, timeout=240)
        assert promoted["state"] == "promoted", promoted
        assert 201 in healthy.outcomes
        (decision,) = [e for e in promoted["events"] if e["kind"] == "decision"]
        saga = decision["evidence"]["saga"]
        assert saga["completed"] >= 3
        assert saga["compensated"] == 0
        assert decision["evidence"]["gateway"].startswith("none")

        reset_flag(control)
        manage(control, "rollout", "start", ROUTE, "--steps", "10,100", "--step-time", "120s")
        with Checkouts(orders, DECLINED) as failing:
            rolled = wait_until_done(control, timeout=240)
        assert rolled["state"] == "rolled_back", rolled
        assert 402 in failing.outcomes
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
