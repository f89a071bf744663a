"""The saga's chaos drill, real processes only: SAGA_DRILL_SIZE checkouts (`make test`: 120,
`make drill-saga`: 1000) through the Order service while every participant fails 10% of the time (the
sandbox's decline and timeout knobs, the monolith's stock fault knob), the orchestrator is killed -9 three
times and RabbitMQ is stopped and started once. Then the invariants are checked over every database and the
sandbox's ledger (legacy_monolith/demo/saga_invariants.py) and the counts printed. Antifraud's velocity
limits are raised for the run: one test card pays every order, and the drill is about injected faults."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

import pytest
import requests

from bench.checkout_load import checkout, fill_cart
from legacy_monolith.demo.saga_invariants import check_saga_invariants
from tests.background import wait_until
from tests.e2e.order_stack import (
    APPROVED,
    DRILL_ORDER_ENV,
    NO_VELOCITY_LIMITS,
    checkout_body,
    running_orders_stack,
)

pytestmark = pytest.mark.e2e

SIZE = int(os.environ.get("SAGA_DRILL_SIZE", "120"))
CUSTOMERS = 12
# A saga past its deadline is compensated, and undoing goes through the broker and the participants: with
# RabbitMQ down for a while, it finishes once they are back. The drill allows this long after the deadline.
COMPENSATION_GRACE = 240.0
ORDER_ENV = DRILL_ORDER_ENV


def rabbitmq_bounce() -> None:
    """One short RabbitMQ outage (stop_app/start_app), waiting until it answers again."""
    subprocess.run(["rabbitmqctl", "-q", "stop_app"], check=True, capture_output=True)
    time.sleep(2)
    subprocess.run(["rabbitmqctl", "-q", "start_app"], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def drill(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("saga-drill")
    with running_orders_stack(
        database_url=e2e_database_url,
        var_dir=var_dir,
        customers=CUSTOMERS,
        restock=100_000,
        order_env=ORDER_ENV,
        monolith_env={"INTERNAL_STOCK_FAULT_RATE": "0.1", **NO_VELOCITY_LIMITS},
    ) as stack:
        yield stack


def test_every_order_ends_consistent_under_faults_crashes_and_a_broker_outage(drill):
    sandbox = requests.Session()
    for gateway in ("cardinal", "northpay"):
        knobs = {"decline_rate": 0.1, "timeout_rate": 0.1, "timeout_seconds": 7}
        sandbox.put(
            f"{drill.stack.sandbox_url}/_sandbox/gateways/{gateway}", json=knobs, timeout=10
        ).raise_for_status()
    body = checkout_body(APPROVED)
    products = [pid for pid, _, _ in drill.products]
    accepted: list[str] = []
    refused: list[int] = []
    crashed: list[BaseException] = []  # a customer thread that died fails the drill now, not after 600 s
    lock = threading.Lock()

    def customer(n: int) -> None:
        token = drill.customers[n].token
        try:
            for i in range(n, SIZE, CUSTOMERS):
                fill_cart(drill.orders.url, token, products[i % len(products)])
                outcome = checkout(drill.orders.url, token, body, path="/api/v2/orders")
                with lock:
                    if outcome.status == 202:
                        accepted.append(outcome.number)
                    else:
                        refused.append(outcome.status)
        except BaseException as exc:
            crashed.append(exc)
            raise

    def flowing(share: int) -> bool:
        if crashed:
            raise AssertionError(f"a customer stopped: {crashed[0]!r}")
        return len(accepted) >= SIZE * share // 5

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(CUSTOMERS)]
    for thread in threads:
        thread.start()
    orchestrator = drill.orders.workers["order_service.saga_orchestrator"]
    for kill in range(3):
        wait_until(lambda k=kill: flowing(k + 1), "checkouts to flow", 600)
        orchestrator.kill()
        time.sleep(1)
        orchestrator.start()
        if kill == 1:
            rabbitmq_bounce()
    for thread in threads:
        thread.join(timeout=900)
    assert not crashed, crashed
    assert len(accepted) + len(refused) == SIZE

    def finished() -> bool:
        report = check_saga_invariants(
            order_database_url=drill.orders.database_url,
            monolith_database_url=drill.stack.env["DATABASE_URL"],
            sandbox_url=drill.stack.sandbox_url,
        )
        return report.orders and not [v for v in report.violations if "not finished" in v]

    wait_until(finished, "every saga to finish", 600)
    report = check_saga_invariants(
        order_database_url=drill.orders.database_url,
        monolith_database_url=drill.stack.env["DATABASE_URL"],
        sandbox_url=drill.stack.sandbox_url,
        grace_seconds=COMPENSATION_GRACE,
    )
    print(
        "\nsaga drill:",
        json.dumps(
            {"size": SIZE, "accepted": len(accepted), "refused": len(refused), **report.as_dict()}, indent=1
        ),
    )
    assert report.ok, report.violations[:20]
    assert report.orders == len(accepted)
    assert report.counts["paid"] > 0
    assert report.counts["payment_failed"] > 0
