"""Checkout as a saga, with real processes only: the monolith and the sandbox (gunicorn, PostgreSQL), RabbitMQ
(a vhost of this module's own) and the Order service with its web, consumer, relay, worker and beat
processes. Each path is checked in every participant's own data: the Order service's order and saga, the
monolith's stock movements, payments and its copy of the order, the sandbox's ledger."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import psycopg2
import pytest
import requests

from tests.background import wait_until
from tests.e2e.order_stack import APPROVED, DECLINED, checkout_body, running_orders_stack

pytestmark = pytest.mark.e2e

MONOLITH_FACTS = """
import json
from legacy_monolith.catalog.models import Product, StockMovement
from legacy_monolith.orders.models import Order
from legacy_monolith.payments.models import Payment
number = {number!r}
order = Order.objects.filter(number=number).first()
print(json.dumps({{
    "order": None if order is None else {{"origin": order.origin, "status": order.status}},
    "payments": [p.status for p in Payment.objects.filter(order__number=number).order_by("id")],
    "moves": [
        (m.reason, m.delta)
        for m in StockMovement.objects.filter(reference="order-" + number).order_by("id")
    ],
}}))
"""


@pytest.fixture(scope="module")
def orders(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("orders-saga")
    with running_orders_stack(database_url=e2e_database_url, var_dir=var_dir) as stack:
        yield stack


def client(orders, n: int = 0) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {orders.customers[n].token}"
    return session


def url(orders, path: str) -> str:
    return f"{orders.orders.url}{path}"


def monolith_facts(orders, number: str) -> dict:
    return json.loads(orders.shell(MONOLITH_FACTS.format(number=number)).strip().splitlines()[-1])


def fill_cart(orders, session, product_id: int, quantity: int = 1) -> None:
    session.delete(url(orders, "/api/v1/orders/cart"), timeout=10)
    added = session.post(
        url(orders, "/api/v1/orders/cart/items"),
        json={"product_id": product_id, "quantity": quantity},
        timeout=10,
    )
    assert added.status_code == 201, added.text


def checkout(orders, session, body: dict, *, version: str = "v1") -> requests.Response:
    path = "/api/v1/orders/checkout" if version == "v1" else "/api/v2/orders"
    return session.post(
        url(orders, path), json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=60
    )


def test_a_checkout_saga_pays_the_order_and_the_monolith_keeps_a_copy(orders):
    session = client(orders)
    product_id = orders.products[0][0]
    fill_cart(orders, session, product_id, 2)
    answer = checkout(orders, session, checkout_body(APPROVED))
    assert answer.status_code == 201, answer.text
    order = answer.json()
    assert (order["status"], order["payment"]["status"], order["payment"]["card_last4"]) == (
        "paid",
        "captured",
        "4242",
    )
    assert session.get(url(orders, "/api/v1/orders/cart"), timeout=10).json()["items"] == []
    facts = monolith_facts(orders, order["number"])
    assert facts["order"]["origin"] == "service"
    assert facts["payments"] == ["captured"]
    assert facts["moves"] == [["reservation", -2]]
    listed = session.get(url(orders, "/api/v1/orders"), timeout=10).json()
    assert [o["number"] for o in listed["results"]] == [order["number"]]


def test_a_declined_card_fails_the_order_gives_the_stock_and_the_cart_back(orders):
    session = client(orders, 1)
    product_id = orders.products[1][0]
    fill_cart(orders, session, product_id, 1)
    answer = checkout(orders, session, checkout_body(DECLINED))
    assert (answer.status_code, answer.json()["code"]) == (402, "payment_declined"), answer.text
    number = answer.json()["extra"]["order_number"]
    facts = monolith_facts(orders, number)
    assert facts["payments"] == ["declined"]
    assert facts["moves"] == [["reservation", -1], ["release", 1]]
    cart = session.get(url(orders, "/api/v1/orders/cart"), timeout=10).json()
    assert [(i["product_id"], i["quantity"]) for i in cart["items"]] == [(product_id, 1)]
    v2 = session.get(url(orders, f"/api/v2/orders/{number}"), timeout=10).json()
    assert (v2["status"], v2["checkout"]["state"], v2["failure"]["code"]) == (
        "payment_failed",
        "compensated",
        "card_declined",
    )


def test_the_last_unit_goes_to_one_checkout_and_the_other_is_refused_out_of_stock(orders):
    product_id = orders.products[2][0]
    orders.shell(
        "from legacy_monolith.catalog.models import Product; "
        f"Product.objects.filter(pk={product_id}).update(stock=1)"
    )
    first, second = client(orders, 2), client(orders, 3)
    fill_cart(orders, first, product_id, 1)
    fill_cart(orders, second, product_id, 1)
    answers = [checkout(orders, s, checkout_body(APPROVED)) for s in (first, second)]
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert (refused["code"], refused["extra"]["product_id"], refused["extra"]["available"]) == (
        "out_of_stock",
        product_id,
        0,
    )


def test_v2_checkout_answers_202_and_the_order_url_shows_the_outcome(orders):
    session = client(orders, 4)
    fill_cart(orders, session, orders.products[3][0], 1)
    answer = checkout(orders, session, checkout_body(APPROVED), version="v2")
    assert answer.status_code == 202, answer.text
    location = answer.headers["Location"]
    assert location == answer.json()["url"] == f"/api/v2/orders/{answer.json()['number']}"
    wait_until(
        lambda: session.get(url(orders, location), timeout=10).json()["checkout"]["state"] == "completed",
        "the saga",
        60,
    )
    assert session.get(url(orders, location), timeout=10).json()["status"] == "paid"


def test_a_replayed_key_answers_the_first_outcome_and_charges_once(orders):
    session = client(orders)
    fill_cart(orders, session, orders.products[4][0], 1)
    key = str(uuid.uuid4())
    first = session.post(
        url(orders, "/api/v1/orders/checkout"),
        json=checkout_body(APPROVED),
        headers={"Idempotency-Key": key},
        timeout=60,
    )
    again = session.post(
        url(orders, "/api/v1/orders/checkout"),
        json=checkout_body(APPROVED),
        headers={"Idempotency-Key": key},
        timeout=60,
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert monolith_facts(orders, first.json()["number"])["payments"] == ["captured"]


def test_the_saga_survives_kill_9_of_its_orchestrator(orders):
    session = client(orders, 1)
    fill_cart(orders, session, orders.products[5][0], 1)
    orchestrator = orders.orders.workers["order_service.saga_orchestrator"]
    orchestrator.kill()
    answer = checkout(orders, session, checkout_body(APPROVED), version="v2")
    assert answer.status_code == 202
    time.sleep(0.5)  # the commands and replies pile up while nobody orchestrates
    orchestrator.start()
    location = answer.json()["url"]
    wait_until(
        lambda: session.get(url(orders, location), timeout=10).json()["checkout"]["state"] == "completed",
        "the saga",
        60,
    )


def sync_orders(orders, *args: str, check: bool = True):
    env = {**orders.stack.env, "BROKER_URL": orders.broker_url, "ORDER_SERVICE_URL": orders.orders.url}
    from legacy_monolith.demo.processes import python_argv

    done = subprocess.run(
        python_argv("manage.py", "sync", "orders", *args),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert not check or done.returncode == 0, done.stdout + done.stderr
    return done


def test_service_orders_reach_the_monolith_and_verify_finds_both_sides_equal(orders):
    followed = sync_orders(orders, "follow", "--once", "--interval", "2", "--json")
    verified = sync_orders(orders, "verify", "--json", check=False)
    assert json.loads(followed.stdout)["dead_lettered"] == 0, followed.stderr[-2000:]
    result = json.loads(verified.stdout)
    assert (verified.returncode, result["differences"]) == (0, []), verified.stdout + verified.stderr
    assert result["compared"] >= 5
    # recorded, as every entity's verify is, for the evidence gates and `decommission` (verify_last)
    with psycopg2.connect(orders.stack.env["DATABASE_URL"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT position FROM migrations_data_synccheckpoint WHERE name = 'orders.verify'")
        assert cur.fetchone()[0] == {"differences": 0, "clean": True}


def test_after_a_rollback_the_monolith_cancels_and_refunds_a_service_order(orders):
    session = client(orders, 2)
    fill_cart(orders, session, orders.products[6][0], 1)
    order = checkout(orders, session, checkout_body(APPROVED)).json()
    sync_orders(orders, "follow", "--once", "--interval", "2")
    monolith = requests.Session()
    monolith.headers["Authorization"] = f"Token {orders.customers[2].token}"
    shown = monolith.get(f"{orders.stack.monolith_url}/api/v1/orders/{order['number']}", timeout=10)
    assert (shown.status_code, shown.json()["status"]) == (200, "paid")
    cancelled = monolith.post(
        f"{orders.stack.monolith_url}/api/v1/orders/{order['number']}/cancel", timeout=30
    )
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled"), cancelled.text
    facts = monolith_facts(orders, order["number"])
    assert facts["payments"] == ["refunded"]
