"""The e2e tests' orders stack (legacy_monolith/demo/order_stack.py, shared with the drill and bench)."""

import contextlib
import json
from pathlib import Path

from legacy_monolith.demo.order_stack import (
    APPROVED,
    DECLINED,
    Customer,
    OrdersStack,
    checkout_body,
    running_orders_stack,
)
from load.traffic import SuiteTraffic
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.strangler_proxy.conftest import BOOTSTRAP_FILE, start_gateway

__all__ = [
    "APPROVED", "DECLINED", "DRILL_ORDER_ENV", "NO_VELOCITY_LIMITS", "Customer", "OrdersStack",
    "checkout_body", "orders_gateway", "running_orders_stack", "saga_traffic", "write_orders_flags",
]  # fmt: skip

# The monolith's antifraud allows 5 payment attempts per user an hour by default: tests where a few customers
# check out over and over lift it, or their later checkouts are declined and their sagas compensated.
NO_VELOCITY_LIMITS = {
    "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_USER": "1000000",
    "PAYMENT_FRAUD_MAX_ATTEMPTS_PER_CARD": "1000000",
    "PAYMENT_FRAUD_MAX_DECLINES_PER_CARD": "1000000",
    "PAYMENT_FRAUD_MAX_CARDS_PER_USER": "1000000",
}

# The drills' saga timings: short deadlines and retries, so faults and a broker outage end within the drill.
DRILL_ORDER_ENV = {
    "ORDER_SAGA_DEADLINE_SECONDS": "60",
    "ORDER_SAGA_STEP_TIMEOUT_SECONDS": "8",
    "ORDER_SAGA_RETRY_BASE_SECONDS": "0.2",
    "ORDER_SAGA_RETRY_MAX_SECONDS": "3",
    "ORDER_SAGA_MAX_ATTEMPTS": "8",
    "ORDER_PARTICIPANT_READ_TIMEOUT": "6",
}

ORDER_FLAGS = ("route.orders.write", "route.orders.checkout", "route.orders.read")


def write_orders_flags(path, payments_percent: int) -> None:
    """The orders stage at 100 % (sticky per user), route.payments.charge at `payments_percent` (the Order
    service and the gateway both read this file; a change is seen within about a second)."""
    document = json.loads(BOOTSTRAP_FILE.read_text(encoding="utf-8"))
    for feature in document["features"]:
        percent = 100 if feature["name"] in ORDER_FLAGS else payments_percent
        if feature["name"] in (*ORDER_FLAGS, "route.payments.charge"):
            feature["enabled"] = percent > 0
            feature["strategies"][0]["parameters"]["rollout"] = str(percent)
            feature["strategies"][0]["parameters"]["stickiness"] = "userId"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document), encoding="utf-8")
    temporary.replace(path)  # readers never see half a file


@contextlib.contextmanager
def orders_gateway(stack: OrdersStack, var_dir: Path):
    """The gateway in front of an orders stack, the orders stage at 100 % in a flags file of its own (the
    payments flag off there: the Order service reads its own file), so shoppers reach the Order service."""
    var_dir.mkdir(parents=True, exist_ok=True)
    write_orders_flags(var_dir / "flags.json", 0)
    gateway = start_gateway(
        log_path=var_dir / "gateway.log",
        routes_yaml=DEFAULT_ROUTES,
        flags_file=var_dir / "flags.json",
        legacy_url=stack.stack.monolith_url,
        env={"ORDER_SERVICE_URL": stack.orders.url},
    )
    try:
        yield gateway
    finally:
        gateway.stop()


def saga_traffic(stack: OrdersStack, gateway_url: str, folder: Path, *, customers: int) -> SuiteTraffic:
    """The saga drill's traffic: the stage-4 locust suite's shoppers (browse, fill carts, check out through
    the Order service's asynchronous POST /api/v2/orders, named "checkout v2"), one per customer with its
    legacy token, each as fast as its answers come. Every 202 is one order; anything else, none."""
    tokens = [f"Token {customer.token}" for customer in stack.customers[:customers]]
    return SuiteTraffic(stage="4", host=gateway_url, rate=customers * 5.0, users=customers, folder=folder,
                        tokens=tokens, env={"LOAD_CHECKOUT_API": "v2"})  # fmt: skip
