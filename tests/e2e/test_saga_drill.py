"""The saga's chaos drill, real processes only: SAGA_DRILL_SIZE checkouts (`make test`: 120,
`make drill-saga`: 1000) of the stage-4 locust suite's shoppers (one per customer; browse, fill carts, check
out through the gateway into the Order service's asynchronous POST /api/v2/orders) while every participant
fails 10% of the time (the sandbox's decline and timeout knobs, the monolith's stock fault knob), the
orchestrator is killed -9 three times and RabbitMQ is stopped and started once (the stack's broker is a
node of this test's own, tests/rabbitmq_node.py: the shared one the other sessions use is never touched).
Then the invariants are checked over every database and the sandbox's ledger
(legacy_monolith/demo/saga_invariants.py) and the counts printed. Antifraud's velocity limits are raised
for the run: one test card pays every order, and the drill is about injected faults."""

from __future__ import annotations

import json
import os
import time

import pytest
import requests

from legacy_monolith.demo.saga_invariants import check_saga_invariants
from tests.background import wait_until
from tests.e2e.order_stack import (
    DRILL_ORDER_ENV,
    NO_VELOCITY_LIMITS,
    orders_gateway,
    running_orders_stack,
    saga_traffic,
)
from tests.rabbitmq_node import RabbitNode, private_rabbitmq

pytestmark = pytest.mark.e2e

SIZE = int(os.environ.get("SAGA_DRILL_SIZE", "120"))
CUSTOMERS = 12
# A saga past its deadline is compensated, and undoing goes through the broker and the participants: with
# RabbitMQ down for a while, it finishes once they are back. The drill allows this long after the deadline.
COMPENSATION_GRACE = 240.0
ORDER_ENV = DRILL_ORDER_ENV


def rabbitmq_bounce(broker: RabbitNode) -> None:
    """One short RabbitMQ outage (stop_app/start_app), waiting until it answers again."""
    broker.stop_app()
    time.sleep(2)
    broker.start_app()


@pytest.fixture(scope="module")
def drill(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("saga-drill")
    with (
        private_rabbitmq("sagadrill") as broker,
        running_orders_stack(
            broker_url=broker.url,
            database_url=e2e_database_url,
            var_dir=var_dir,
            customers=CUSTOMERS,
            restock=100_000,
            order_env=ORDER_ENV,
            monolith_env={"INTERNAL_STOCK_FAULT_RATE": "0.1", **NO_VELOCITY_LIMITS},
        ) as stack,
        orders_gateway(stack, var_dir / "gateway") as gateway,
    ):
        yield stack, gateway, broker


def test_every_order_ends_consistent_under_faults_crashes_and_a_broker_outage(drill, tmp_path):
    drill, gateway, broker = drill
    sandbox = requests.Session()
    for provider in ("cardinal", "northpay"):
        knobs = {"decline_rate": 0.1, "timeout_rate": 0.1, "timeout_seconds": 7}
        sandbox.put(
            f"{drill.stack.sandbox_url}/_sandbox/gateways/{provider}", json=knobs, timeout=10
        ).raise_for_status()
    # the traffic part alone, small and without the broker outage: tests/e2e/test_rollout_sagas.py
    traffic = saga_traffic(drill, gateway.url, tmp_path / "load", customers=CUSTOMERS)

    def checkouts() -> list[int]:
        return [e.status for e in traffic.exchanges() if e.name == "checkout v2"]

    def flowing(share: int) -> bool:
        return checkouts().count(202) >= SIZE * share // 5

    with traffic:
        orchestrator = drill.orders.workers["order_service.saga_orchestrator"]
        for kill in range(3):
            wait_until(lambda k=kill: flowing(k + 1), "checkouts to flow", 600)
            orchestrator.kill()
            time.sleep(1)
            orchestrator.start()
            if kill == 1:
                rabbitmq_bounce(broker)
        wait_until(lambda: len(checkouts()) >= SIZE, f"{SIZE} checkouts", 900)
    outcomes = checkouts()
    accepted, refused = outcomes.count(202), len(outcomes) - outcomes.count(202)
    assert len(outcomes) >= SIZE
    assert not [e for e in traffic.exchanges() if e.status == 0], traffic.counts()  # every request answered

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
            {
                "size": SIZE,
                "accepted": accepted,
                "refused": refused,
                "requests": traffic.counts(),
                **report.as_dict(),
            },
            indent=1,
        ),
    )
    assert report.ok, report.violations[:20]
    assert report.orders == accepted  # one order per 202, none for any other answer
    assert report.counts["paid"] > 0
    assert report.counts["payment_failed"] > 0
