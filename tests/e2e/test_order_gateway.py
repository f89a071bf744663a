"""The shopping journey's orders part through the gateway (mitmdump + our addons) at 0%, 50% and 100% of the
orders stage (route.orders.write, route.orders.checkout, route.orders.read, sticky per user), then rolled back
to 0%: every order the Order service created is then shown, cancelled and refunded by the monolith."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
import requests

from legacy_monolith.demo.processes import python_argv
from strangler_proxy.launch import DEFAULT_ROUTES
from tests.e2e.order_stack import APPROVED, checkout_body, running_orders_stack
from tests.strangler_proxy.conftest import BOOTSTRAP_FILE, start_gateway

pytestmark = pytest.mark.e2e
ORDER_FLAGS = ("route.orders.write", "route.orders.checkout", "route.orders.read")


def set_orders_rollout(path, percent: int) -> None:
    document = json.loads(BOOTSTRAP_FILE.read_text(encoding="utf-8"))
    for feature in document["features"]:
        if feature["name"] in ORDER_FLAGS:
            feature["enabled"] = percent > 0
            feature["strategies"][0]["parameters"]["rollout"] = str(percent)
            feature["strategies"][0]["parameters"]["stickiness"] = "userId"
    path.write_text(json.dumps(document), encoding="utf-8")
    time.sleep(2)  # the gateway sees a flags file change within about 0.25 s (plus its per-user memo)


@pytest.fixture(scope="module")
def journey(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("orders-gateway")
    flags = var_dir / "flags.json"
    set_orders_rollout(flags, 0)
    with running_orders_stack(
        database_url=e2e_database_url, var_dir=var_dir, customers=8, restock=10_000
    ) as stack:
        gateway = start_gateway(
            log_path=var_dir / "gateway.log",
            routes_yaml=DEFAULT_ROUTES,
            flags_file=flags,
            legacy_url=stack.stack.monolith_url,
            env={"ORDER_SERVICE_URL": stack.orders.url},
        )
        try:
            yield stack, gateway, flags
        finally:
            gateway.stop()


def shop(gateway_url: str, token: str, product_id: int) -> tuple[set[str], requests.Response]:
    """Empty the cart, add a product, check out; the upstreams that answered, and the checkout's answer."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    upstreams = set()
    for method, path, body in (
        ("DELETE", "/api/v1/orders/cart", None),
        ("POST", "/api/v1/orders/cart/items", {"product_id": product_id, "quantity": 1}),
    ):
        answer = session.request(method, gateway_url + path, json=body, timeout=30)
        assert answer.status_code in (201, 204), answer.text
        upstreams.add(answer.headers["X-Strangler-Upstream"])
    checkout = session.post(
        gateway_url + "/api/v1/orders/checkout",
        json=checkout_body(APPROVED),
        headers={"Idempotency-Key": str(uuid.uuid4())},
        timeout=60,
    )
    upstreams.add(checkout.headers["X-Strangler-Upstream"])
    return upstreams, checkout


def test_the_orders_stage_at_0_50_and_100_percent_then_rolled_back(journey):
    stack, gateway, flags = journey
    product = stack.products[0][0]
    created: list[tuple[int, str, str]] = []  # (customer, number, upstream)

    for percent in (0, 50, 100):
        set_orders_rollout(flags, percent)
        seen = set()
        for n, customer in enumerate(stack.customers):
            upstreams, answer = shop(gateway.url, customer.token, product)
            assert len(upstreams) == 1, f"{percent}%: customer {n} was split across {upstreams}"  # sticky
            assert (answer.status_code, answer.json()["status"]) == (201, "paid"), answer.text
            upstream = upstreams.pop()
            seen.add(upstream)
            created.append((n, answer.json()["number"], upstream))
        expected = {0: {"legacy"}, 100: {"orders"}}.get(percent)
        assert expected is None or seen == expected, (percent, seen)

    # Roll back to 0%: the service's orders reach the monolith, which shows, cancels and refunds them.
    set_orders_rollout(flags, 0)
    env = {
        **os.environ,
        **stack.stack.env,
        "BROKER_URL": stack.broker_url,
        "ORDER_SERVICE_URL": stack.orders.url,
    }
    subprocess.run(
        python_argv("manage.py", "sync", "orders", "follow", "--once", "--interval", "2"),
        env=env,
        check=True,
        capture_output=True,
    )
    service_orders = [(n, number) for n, number, upstream in created if upstream == "orders"]
    assert service_orders
    for n, number in service_orders:
        session = requests.Session()
        session.headers["Authorization"] = f"Token {stack.customers[n].token}"
        shown = session.get(f"{gateway.url}/api/v1/orders/{number}", timeout=30)
        assert (shown.status_code, shown.headers["X-Strangler-Upstream"]) == (200, "legacy"), shown.text
        cancelled = session.post(f"{gateway.url}/api/v1/orders/{number}/cancel", timeout=60)
        assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled"), cancelled.text
        assert cancelled.json()["payment"]["status"] == "refunded"
