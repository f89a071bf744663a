"""The Product service answers the monolith's /api/v1/catalog staff writes exactly as the monolith does
(issue 21: "a contract e2e covers every write against both processes").

The monolith (gunicorn, a throwaway PostgreSQL database, seeded) and a REAL Product service (gunicorn, its
own database) holding the same catalogue (`sync products backfill`); no sync runs afterwards, so each side's
writes stay its own. The same requests go to both, as the same staff user (the gateway's signed identity,
signed for each side), in the same order: category and product creation, product edits, stock adjustments,
the stock history and deactivation, with their bad inputs, a customer's and an anonymous caller's. Status and
JSON must be identical once each side's own ids of the records it created (the monolith's sequence, the
service's CATALOG_ID_OFFSET block) and the times are set aside.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid

import psycopg2
import pytest
import requests

from contracts.identity import sign_identity
from legacy_monolith.demo.processes import manage
from legacy_monolith.demo.stack import running_stack
from tests.e2e.product_service import running_product_service

pytestmark = pytest.mark.e2e

IDENTITY_KEY = secrets.token_urlsafe(48)
HOST = "shop.example"  # one Host header for both sides, so pagination links compare
CATEGORIES = "/api/v1/catalog/categories"
PRODUCTS = "/api/v1/catalog/products"
SKU = f"CONTRACT-{uuid.uuid4().hex[:6].upper()}"
TIMES = ("created_at", "updated_at", "date_joined")


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    seed = ("--users", "4", "--products", "12", "--orders", "0", "--seed", "8")
    with running_stack(
        database_url=e2e_database_url,
        var_dir=tmp_path_factory.mktemp("write-contract-var"),
        seed_args=seed,
        extra_env={"INTERNAL_IDENTITY_KEY": IDENTITY_KEY},
        workers=1,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("write-contract-product")
    with running_product_service(
        var_dir=var_dir, env={"INTERNAL_IDENTITY_KEY": IDENTITY_KEY}, workers=1
    ) as running:
        env = {**stack.env, "PRODUCT_SERVICE_URL": running.url, "INTERNAL_API_TOKEN": running.token}
        manage("sync", "products", "backfill", "--no-progress", env=env)
        yield running


class Sides:
    """The same request to both sides, each signed for that side, with each side's own ids filled in."""

    def __init__(self, stack, service):
        self.urls = {"monolith": stack.monolith_url, "service": service.url}
        with psycopg2.connect(stack.env["DATABASE_URL"]) as conn, conn.cursor() as cur:
            cur.execute("SELECT id, role FROM accounts_user WHERE is_active ORDER BY id")
            users = cur.fetchall()
            cur.execute("SELECT id FROM catalog_category ORDER BY id LIMIT 1")
            self.category = cur.fetchone()[0]
            cur.execute("SELECT id FROM catalog_product WHERE is_active AND stock > 0 ORDER BY id LIMIT 1")
            self.product = cur.fetchone()[0]
        conn.close()
        self.user = {role: next(uid for uid, r in users if r == role) for role in ("staff", "customer")}
        self.made: dict[str, dict[str, int]] = {"monolith": {}, "service": {}}  # label -> id, per side

    def fill(self, side: str, text: str) -> str:
        """`"<label>"` (a JSON string in a body) and `<label>` (in a path) become this side's id."""
        for label, made_id in self.made[side].items():
            text = text.replace(f'"<{label}>"', str(made_id)).replace(f"<{label}>", str(made_id))
        return text

    def both(
        self, method: str, path: str, body=None, *, role: str | None = "staff", raw: bytes | None = None
    ):
        answers = {}
        for side, url in self.urls.items():
            target = self.fill(side, path)
            data = (
                raw
                if raw is not None
                else b""
                if body is None
                else self.fill(side, json.dumps(body)).encode()
            )
            headers = {"Host": HOST, **({"Content-Type": "application/json"} if data else {})}
            if role is not None:
                headers["X-Strangler-Identity"] = sign_identity(
                    key=IDENTITY_KEY, user_id=self.user[role], roles=[role], scope=[], jti=uuid.uuid4().hex,
                    method=method, path=target.split("?")[0], query=target.partition("?")[2], body=data,
                )  # fmt: skip
            answers[side] = requests.request(method, f"{url}{target}", data=data, headers=headers, timeout=15)
        return answers["monolith"], answers["service"]

    def same(self, monolith, service, *, label: str | None = None):
        """Both answers equal, each side's own ids and the times aside; `label` names a new record's id."""
        assert (monolith.status_code, service.status_code) == (monolith.status_code,) * 2, (
            monolith.text[:300],
            service.text[:300],
        )
        if monolith.status_code == 204:
            assert service.content == b""
            return None
        if label is not None and monolith.status_code == 201:
            self.made["monolith"][label], self.made["service"][label] = (
                monolith.json()["id"],
                service.json()["id"],
            )
        ours, theirs = (
            self.comparable("monolith", monolith.json()),
            self.comparable("service", service.json()),
        )
        assert theirs == ours
        return ours

    def comparable(self, side: str, body):
        """The body without record ids and times, this side's made ids under their labels (by key) and, in
        messages, as `<made>` (the monolith's category and product may share a number)."""
        return _labelled(_without(body), self.made[side])


LABEL_OF_KEY = {"category_id": "category", "parent_id": "category", "product_id": "product"}


def _without(node):
    if isinstance(node, dict):
        return {
            k: _without(v)
            for k, v in node.items()
            if k not in TIMES and not (k == "id" and isinstance(v, int))
        }
    if isinstance(node, list):
        return [_without(item) for item in node]
    return node


def _labelled(node, made: dict[str, int], key: str | None = None):
    if isinstance(node, dict):
        return {k: _labelled(v, made, k) for k, v in node.items()}
    if isinstance(node, list):
        return [_labelled(item, made, key) for item in node]
    label = LABEL_OF_KEY.get(key or "")
    if isinstance(node, int) and label in made and node == made[label]:
        return f"<{label}>"
    if isinstance(node, str):
        for made_id in made.values():
            node = re.sub(rf"\b{made_id}\b", "<made>", node)
    return node


@pytest.fixture(scope="module")
def sides(stack, service):
    return Sides(stack, service)


def test_category_creation_and_its_refusals_answer_the_same(sides):
    sides.same(*sides.both("POST", CATEGORIES, {"name": "Contract Gadgets"}), label="category")
    sides.same(*sides.both("POST", CATEGORIES, {"name": "Contract Child", "parent_id": "<category>"}))
    for body in (
        {"name": "Contract Gadgets"},  # the slug is taken: 409
        {"name": "Other", "slug": "contract-gadgets"},
        {"name": ""},
        {"name": 5},
        {"name": "Orphan", "parent_id": 987654321},
        {"name": "x" * 121},
        {},
    ):
        sides.same(*sides.both("POST", CATEGORIES, body))
    for raw in (b"{not json", b"[1, 2]"):
        sides.same(*sides.both("POST", CATEGORIES, raw=raw))
    sides.same(*sides.both("POST", CATEGORIES, {"name": "By a customer"}, role="customer"))  # 403
    sides.same(*sides.both("POST", CATEGORIES, {"name": "By nobody"}, role=None))  # 401


def test_product_creation_and_its_refusals_answer_the_same(sides):
    good = {"sku": SKU, "name": "Contract speaker", "category_id": "<category>", "price": "49.90", "stock": 4,
            "attributes": {"brand": "Strangler", "wireless": True}, "description": "Made twice"}  # fmt: skip
    sides.same(*sides.both("POST", PRODUCTS, good), label="product")
    for body in (
        good,  # the SKU is taken: 409
        {**good, "sku": f"{SKU}-2", "category_id": 987654321},
        {**good, "sku": f"{SKU}-3", "price": "-1"},
        {**good, "sku": f"{SKU}-4", "price": "abc"},
        {**good, "sku": f"{SKU}-5", "price": "1.234"},
        {**good, "sku": f"{SKU}-6", "stock": -1},
        {**good, "sku": f"{SKU}-7", "stock": "4"},
        {**good, "sku": f"{SKU}-8", "attributes": "x"},
        {**good, "sku": f"{SKU}-9", "is_active": "yes"},
        {key: value for key, value in good.items() if key != "sku"},
        {},
    ):
        sides.same(*sides.both("POST", PRODUCTS, body))
    sides.same(*sides.both("POST", PRODUCTS, good, role="customer"))
    sides.same(*sides.both("POST", PRODUCTS, good, role=None))


def test_product_edits_and_their_refusals_answer_the_same(sides):
    product = f"{PRODUCTS}/<product>"
    sides.same(*sides.both("PATCH", product, {"name": "Contract speaker II", "price": "44.00"}))
    for body in ({"stock": 5}, {"price": "1.234"}, {"name": ""}, {"category_id": 987654321}, {"sku": 7}, {}):
        sides.same(*sides.both("PATCH", product, body))
    sides.same(*sides.both("PATCH", f"{PRODUCTS}/987654321", {"name": "Nothing"}))
    sides.same(*sides.both("PATCH", product, {"name": "Customer's"}, role="customer"))
    sides.same(*sides.both("GET", product))


def adjust_stock_both_sides(sides, product: str) -> None:
    stock = f"{product}/stock"
    sides.same(*sides.both("POST", stock, {"delta": 5, "reason": "restock", "reference": "PO-21"}))
    sides.same(*sides.both("POST", stock, {"delta": -2, "reason": "adjustment"}))
    for body in (
        {"delta": -100000, "reason": "adjustment"},  # 409 insufficient_stock
        {"delta": 0, "reason": "restock"},
        {"delta": 1, "reason": "reservation"},
        {"delta": "1", "reason": "restock"},
        {"delta": 1, "reason": "restock", "reference": "x" * 65},
        {},
    ):
        sides.same(*sides.both("POST", stock, body))
    sides.same(*sides.both("POST", stock, {"delta": 1, "reason": "return"}, role="customer"))
    sides.same(*sides.both("GET", f"{product}/stock-movements", role="customer"))
    sides.same(*sides.both("GET", product))


def test_stock_adjustments_and_the_history_of_a_product_made_there_answer_the_same(sides):
    product = f"{PRODUCTS}/<product>"
    adjust_stock_both_sides(sides, product)
    sides.same(*sides.both("GET", f"{product}/stock-movements?page_size=2"))
    sides.same(*sides.both("GET", f"{product}/stock-movements?page=2&page_size=2"))
    sides.same(*sides.both("POST", f"{PRODUCTS}/987654321/stock", {"delta": 1, "reason": "restock"}))
    sides.same(*sides.both("GET", f"{PRODUCTS}/987654321/stock-movements"))


def test_stock_adjustments_of_a_seeded_product_answer_the_same(sides):
    adjust_stock_both_sides(sides, f"{PRODUCTS}/{sides.product}")


def test_the_history_of_a_seeded_product_answers_the_same(sides):
    """The monolith's movements reached the service's history with the backfill (its movements spec)."""
    sides.same(*sides.both("GET", f"{PRODUCTS}/{sides.product}/stock-movements"))


def test_deactivation_answers_the_same(sides):
    product = f"{PRODUCTS}/<product>"
    sides.same(*sides.both("DELETE", product, role="customer"))
    sides.same(*sides.both("DELETE", product))
    sides.same(*sides.both("DELETE", product))  # again
    sides.same(*sides.both("GET", product))  # an inactive product is 404 to the public
    sides.same(*sides.both("GET", f"{PRODUCTS}?include_inactive=true&q=Contract"))
    sides.same(*sides.both("DELETE", f"{PRODUCTS}/987654321"))
