"""The payments cutover drill (issue 14), real processes only: the stage-5 locust suite's shoppers (browse,
fill a cart, check out with the approved test card; load/traffic.py) run continuously through the gateway
(mitmdump + our addons, the shipped route table, the orders stage at 100%) into the Order service's saga
while `route.payments.charge` goes 0 -> 5 -> 50 -> 100 -> 0 %, so new orders pay at the monolith or at the
Payment service (worker, beat, relay), sticky per customer; the sandbox's error and timeout knobs are raised
for the middle of the run. Then the Payment service's reconciler runs, and the invariants are checked over
the Order service's, the monolith's and the Payment service's databases and the sandbox's ledger
(legacy_monolith/demo/payment_invariants.py): no order paid on both sides or charged twice, no capture
without a confirmed order, every payment reconciled. The counts are printed.

Size: PAYMENTS_DRILL_SIZE checkouts (`make test`: 60; `make drill-payments`: 600), spread evenly over the
five steps. Antifraud's velocity limits are raised: one test card pays every order.
"""

from __future__ import annotations

import json
import os

import pytest
import requests

from legacy_monolith.demo.payment_invariants import check_payment_cutover_invariants
from load.traffic import Exchange, SuiteTraffic
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.background import wait_until
from tests.e2e.order_stack import (
    DRILL_ORDER_ENV,
    NO_VELOCITY_LIMITS,
    running_orders_stack,
    write_orders_flags,
)
from tests.strangler_proxy.conftest import start_gateway

pytestmark = pytest.mark.e2e

SIZE = int(os.environ.get("PAYMENTS_DRILL_SIZE", "60"))
STEPS = (0, 5, 50, 100, 0)
CUSTOMERS = 10
FAULTY_STEPS = {1, 2, 3}  # the sandbox's knobs are raised while the flag is at 5, 50 and 100 %
FAULTS = {"error_rate": 0.05, "timeout_rate": 0.05, "timeout_seconds": 7}
CALM = {"error_rate": 0.0, "timeout_rate": 0.0}
ORDER_ENV = {
    **DRILL_ORDER_ENV,
    "ORDER_CHECKOUT_WAIT_SECONDS": "20",
}
PAYMENT_ENV = {
    **NO_VELOCITY_LIMITS,
    "PAYMENT_READ_TIMEOUT": "5",
    "PAYMENT_RECONCILE_AFTER_SECONDS": "10",
    "PAYMENT_RECONCILE_INTERVAL_SECONDS": "5",
}
# A saga past its deadline is compensated, and undoing goes through the participants: allow this long.
COMPENSATION_GRACE = 240.0


@pytest.fixture(scope="module")
def drill(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("payments-cutover")
    flags = var_dir / "flags.json"
    write_orders_flags(flags, 0)
    with running_orders_stack(
        database_url=e2e_database_url,
        var_dir=var_dir,
        customers=CUSTOMERS,
        restock=100_000,
        order_env={**ORDER_ENV, "FLAGS_FILE": str(flags)},
        monolith_env=NO_VELOCITY_LIMITS,
        with_payment_service=True,
        payment_env=PAYMENT_ENV,
    ) as stack:
        gateway = start_gateway(
            log_path=var_dir / "gateway.log",
            routes_yaml=DEFAULT_ROUTES,
            flags_file=flags,
            legacy_url=stack.stack.monolith_url,
            env={"ORDER_SERVICE_URL": stack.orders.url, "PAYMENT_SERVICE_URL": stack.payments.url},
        )
        try:
            yield stack, gateway, flags
        finally:
            gateway.stop()


def set_knobs(sandbox_url: str, knobs: dict) -> None:
    for gateway in ("cardinal", "northpay"):
        requests.put(f"{sandbox_url}/_sandbox/gateways/{gateway}", json=knobs, timeout=10).raise_for_status()


def test_checkouts_stay_consistent_while_the_payments_flag_goes_0_5_50_100_0(drill, tmp_path):
    stack, gateway, flags = drill
    # the traffic: the stage-5 locust suite's shoppers (browse, fill a cart, check out), one per customer
    # with its ready-made token, each as fast as its answers come (the pacing asks more than they can do)
    tokens = [f"Token {customer.token}" for customer in stack.customers]
    traffic = SuiteTraffic(stage="5", host=gateway.url, rate=CUSTOMERS * 5.0, users=CUSTOMERS,
                           folder=tmp_path / "load", tokens=tokens)  # fmt: skip

    def checkouts() -> list[Exchange]:
        return [e for e in traffic.exchanges() if e.name == "checkout"]

    steps = []
    with traffic:
        for number, percent in enumerate(STEPS):
            write_orders_flags(flags, percent)
            set_knobs(stack.stack.sandbox_url, FAULTS if number in FAULTY_STEPS else CALM)
            steps.append({"percent": percent, "from_checkout": len(checkouts())})
            target = SIZE * (number + 1) // len(STEPS)
            wait_until(lambda t=target: len(checkouts()) >= t, f"{target} checkouts", 900)
    outcomes = [e.status for e in checkouts()]
    assert len(outcomes) >= SIZE
    shopping = [e for e in traffic.exchanges() if e.name != "checkout"]
    unanswered = [e for e in traffic.exchanges() if e.status == 0]
    assert not unanswered, unanswered[:5]  # every request of the journey got an answer
    broken = [e for e in shopping if e.status >= 500 and e.status != 503]  # 503: busy, retry (its body says)
    assert not broken, broken[:5]  # browsing and carts are not what the cutover may break

    def sagas_finished() -> bool:
        report = check_payment_cutover_invariants(**sources(stack))
        return report.orders and not [v for v in report.violations if "not finished" in v]

    wait_until(sagas_finished, "every saga to finish", 600)
    reconciled = stack.payments.manage("payments", "reconcile", "--json", "--no-progress")
    report = check_payment_cutover_invariants(**sources(stack), grace_seconds=COMPENSATION_GRACE)
    print(
        "\npayments cutover drill:",
        json.dumps(
            {
                "size": SIZE,
                "steps": steps,
                "checkout_answers": dict(sorted(_count(outcomes).items())),
                "requests": traffic.counts(),
                "reconcile": json.loads(reconciled.stdout or "{}"),
                **report.as_dict(),
            },
            indent=1,
        ),
    )
    assert report.ok, report.violations[:20]
    assert 0 < report.orders <= len(outcomes)  # one order per checkout the Order service accepted
    assert report.counts["adapter:payment_service"] > 0  # the service paid some orders ...
    assert report.counts["adapter:monolith"] > 0  # ... and the monolith others
    assert report.counts["payment_service:paid"] > 0


def sources(stack) -> dict:
    return {
        "order_database_url": stack.orders.database_url,
        "monolith_database_url": stack.stack.env["DATABASE_URL"],
        "payment_database_url": stack.payments.database_url,
        "sandbox_url": stack.stack.sandbox_url,
    }


def _count(values: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts
