"""The Order service answers /api/v1/orders exactly as the monolith does (modelled on test_catalog_contract).

Both real processes: the monolith (gunicorn, its throwaway database, the sandbox) and the Order service with
all its processes, its shipping rules and coupons loaded by `sync orders backfill`. The same customer sends
the same sequence of requests to each (the cart, quotes, coupons, bad input, checkout and its replays,
history, cancellation); status, Content-Type and JSON must be identical, once the values that differ by
nature are replaced by placeholders: order numbers, payment ids, timestamps.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid

import pytest
import requests

from legacy_monolith.demo.processes import python_argv
from tests.e2e.order_stack import APPROVED, DECLINED, checkout_body, running_orders_stack

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"TS-\d{6}-[0-9A-Z]{6}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
COUPON = """
from decimal import Decimal
from legacy_monolith.orders.models import Coupon
Coupon.objects.create(code="CONTRACT10", kind="percent", value=Decimal("10.00"), usage_limit=100)
Coupon.objects.create(code="BIGSPEND", kind="fixed", value=Decimal("5"), min_order_total=Decimal("100000"))
"""


@pytest.fixture(scope="module")
def sides(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("orders-contract")
    with running_orders_stack(database_url=e2e_database_url, var_dir=var_dir, customers=3) as stack:
        stack.shell(COUPON)
        env = {**os.environ, **stack.stack.env, "ORDER_SERVICE_URL": stack.orders.url}
        done = subprocess.run(
            python_argv("manage.py", "sync", "orders", "backfill", "--json"),
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        yield stack


def normalized(value):
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if (key in ("id",) and isinstance(item, int) and "status" in value and "gateway" in value) or (
                key == "payment_id" and item is not None
            ):
                out[key] = "<payment id>"
            else:
                out[key] = normalized(item)
        return out
    if isinstance(value, list):
        return [normalized(item) for item in value]
    if isinstance(value, str):
        return TIMESTAMP.sub("<time>", NUMBER.sub("<number>", value))
    return value


class Pair:
    """The same customer on both sides; `send` asks both and returns both answers, normalized."""

    def __init__(self, stack, n: int):
        self.urls = {"monolith": stack.stack.monolith_url, "service": stack.orders.url}
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {stack.customers[n].token}"
        self.numbers: dict[str, str] = {}
        self.created: dict[str, set[str]] = {"monolith": set(), "service": set()}
        self.raw: dict[str, object] = {}

    def send(self, method: str, path: str, **kwargs) -> dict[str, tuple]:
        answers = {}
        for side, base in self.urls.items():
            target = path.replace("{number}", self.numbers.get(side, "TS-000000-NONE00"))
            response = self.session.request(method, base + target, timeout=60, **kwargs)
            try:
                body = response.json()
            except ValueError:
                body = response.text
            self.raw[side] = body
            if isinstance(body, dict) and isinstance(body.get("number"), str):
                self.numbers[side] = body["number"]
                self.created[side].add(body["number"])
            if isinstance(body, dict) and isinstance((body.get("extra") or {}).get("order_number"), str):
                self.created[side].add(body["extra"]["order_number"])
            answers[side] = (response.status_code, response.headers.get("Content-Type"), normalized(body))
        return answers

    def same(self, method: str, path: str, **kwargs) -> tuple:
        answers = self.send(method, path, **kwargs)
        assert answers["service"] == answers["monolith"], f"{method} {path}: {answers}"
        return answers["monolith"]


def key() -> dict:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_the_cart_quotes_and_coupons_answer_as_the_monolith(sides):
    pair = Pair(sides, 0)
    product, other = sides.products[0][0], sides.products[1][0]
    assert pair.same("DELETE", "/api/v1/orders/cart")[0] == 204
    assert pair.same("GET", "/api/v1/orders/cart")[0] == 200
    for body in (
        {"product_id": "7", "quantity": 1},
        {"product_id": product, "quantity": 0},
        {"product_id": product, "quantity": 100},
        {"product_id": 2**63, "quantity": 1},
        {"product_id": 999_999_999, "quantity": 1},
        {},
        {"quantity": True, "product_id": product},
    ):
        assert pair.same("POST", "/api/v1/orders/cart/items", json=body)[0] in (400, 404)
    assert (
        pair.same(
            "POST", "/api/v1/orders/cart/items", data="{", headers={"Content-Type": "application/json"}
        )[0]
        == 400
    )
    assert (
        pair.same("POST", "/api/v1/orders/cart/items", json={"product_id": product, "quantity": 2})[0] == 201
    )
    assert pair.same("POST", "/api/v1/orders/cart/items", json={"product_id": other, "quantity": 1})[0] == 201
    assert pair.same("PUT", f"/api/v1/orders/cart/items/{product}", json={"quantity": 3})[0] == 200
    assert pair.same("PUT", "/api/v1/orders/cart/items/999999999", json={"quantity": 3})[0] == 404
    assert pair.same("PUT", f"/api/v1/orders/cart/items/{product}", json={"quantity": "3"})[0] == 400
    assert pair.same("DELETE", f"/api/v1/orders/cart/items/{other}")[0] == 200
    assert pair.same("DELETE", f"/api/v1/orders/cart/items/{other}")[0] == 404
    for body in (
        {"country": "FR", "postal_code": "75001"},
        {"country": "fr", "postal_code": " 20000 "},
        {"country": "US", "postal_code": "96701", "weight_grams": 500},
        {"country": "FR", "postal_code": "1"},
        {"country": "JP", "postal_code": "100-0001"},
        {"country": "FRA", "postal_code": "75001"},
        {"country": "FR", "postal_code": "75001", "weight_grams": -1},
    ):
        assert pair.same("POST", "/api/v1/orders/shipping/quote", json=body)[0] in (200, 400, 422)
    for code in ("CONTRACT10", "contract10", "NOPE", "BIGSPEND", ""):
        assert pair.same("POST", "/api/v1/orders/coupons/validate", json={"code": code})[0] in (200, 400)
    assert pair.same("GET", "/api/v1/orders/coupons")[0] == 403  # staff only


def test_checkout_its_refusals_replays_history_and_cancellation_answer_as_the_monolith(sides):
    pair = Pair(sides, 1)
    product = sides.products[2][0]
    pair.same("DELETE", "/api/v1/orders/cart")
    assert pair.same("POST", "/api/v1/orders/checkout", json=checkout_body(APPROVED))[0] == 400  # no key
    assert (
        pair.same(
            "POST",
            "/api/v1/orders/checkout",
            json=checkout_body(APPROVED),
            headers={"Idempotency-Key": "short"},
        )[0]
        == 400
    )
    assert (
        pair.same("POST", "/api/v1/orders/checkout", json=checkout_body(APPROVED), headers=key())[0] == 400
    )  # empty
    pair.same("POST", "/api/v1/orders/cart/items", json={"product_id": product, "quantity": 1})
    bad_card = {**checkout_body(APPROVED), "payment": {"card": {"number": "12", "exp_month": 13}}}
    assert pair.same("POST", "/api/v1/orders/checkout", json=bad_card, headers=key())[0] == 400
    no_ship = {
        **checkout_body(APPROVED),
        "shipping": {**checkout_body()["shipping"], "country": "JP", "postal_code": "100-0001"},
    }
    assert pair.same("POST", "/api/v1/orders/checkout", json=no_ship, headers=key())[0] == 422
    assert (
        pair.same(
            "POST", "/api/v1/orders/checkout", json=checkout_body(APPROVED, coupon="BIGSPEND"), headers=key()
        )[0]
        == 400
    )
    declined = pair.same("POST", "/api/v1/orders/checkout", json=checkout_body(DECLINED), headers=key())
    assert (declined[0], declined[2]["code"]) == (402, "payment_declined")
    assert pair.same("GET", "/api/v1/orders/cart")[2]["item_count"] == 1  # the cart came back
    replay = key()
    paid = pair.same(
        "POST", "/api/v1/orders/checkout", json=checkout_body(APPROVED, coupon="CONTRACT10"), headers=replay
    )
    assert (paid[0], paid[2]["status"], paid[2]["coupon_code"]) == (201, "paid", "CONTRACT10")
    assert (
        pair.same(
            "POST",
            "/api/v1/orders/checkout",
            json=checkout_body(APPROVED, coupon="CONTRACT10"),
            headers=replay,
        )[0]
        == 200
    )
    assert (
        pair.same("POST", "/api/v1/orders/checkout", json=checkout_body(APPROVED), headers=replay)[0] == 409
    )
    # Each side lists its own orders; the monolith also keeps copies of the service's (a rollback loses
    # nothing), which are left out of the comparison.
    pair.send("GET", "/api/v1/orders")
    own = {
        side: normalized([o for o in pair.raw[side]["results"] if o["number"] in pair.created[side]])
        for side in ("monolith", "service")
    }
    assert len(own["service"]) == 2  # the paid one and the declined one
    assert own["service"] == own["monolith"]
    assert pair.same("GET", "/api/v1/orders?page=9")[0] == 404
    assert pair.same("GET", "/api/v1/orders/{number}")[0] == 200
    assert pair.same("GET", "/api/v1/orders/TS-000000-NONE00")[0] == 404
    assert pair.same("GET", "/api/v1/orders/lower-case")[0] == 404
    cancelled = pair.same("POST", "/api/v1/orders/{number}/cancel")
    assert (cancelled[0], cancelled[2]["status"]) == (200, "cancelled")
    assert pair.same("POST", "/api/v1/orders/{number}/cancel")[2]["code"] == "order_already_cancelled"


def test_anonymous_and_bad_credentials_are_refused_alike(sides):
    for headers in ({}, {"Authorization": "Token not-a-token"}):
        answers = {
            side: requests.get(f"{base}/api/v1/orders/cart", headers=headers, timeout=10)
            for side, base in (("monolith", sides.stack.monolith_url), ("service", sides.orders.url))
        }
        assert {s: (a.status_code, a.json()) for s, a in answers.items()}["service"] == (
            answers["monolith"].status_code,
            answers["monolith"].json(),
        )
