"""The stock-ownership cutover drill (issue 21), real processes only: the monolith under gunicorn with the
sandbox's card gateways, and a REAL Product service, on throwaway databases. Customers check out one unit
of one scarce product over and over (some with a declined card, so compensations run) while ownership
moves from the monolith to the Product service by the README's steps ("Stock ownership cutover"):

1. the monolith restarts with PRODUCT_STOCK_OWNER=service (the freeze: its checkouts ask the service,
   which answers 503 stock_not_owned until it owns stock; nothing is taken anywhere);
2. the service takes the monolith's last levels (`sync products backfill --restart`);
3. the service restarts with PRODUCT_STOCK_OWNER=service: checkouts reserve there (order-<number>).

Then: nothing oversold (the service's level is the initial stock minus every paid order, never below zero),
every checkout answered 201, 402, 409 or 503 (never a 500), each order's stock taken on one side only, and
the Product service down is a 503 that takes nothing. Size: STOCK_OWNER_DRILL_SIZE checkouts (`make test`:
24; `make drill-stock-owner`: 600, each phase counting the checkouts it decided), with the scarce product's
stock at two thirds of it. One JSON line of figures.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter

import psycopg2
import pytest
import requests

from legacy_monolith.demo.order_stack import APPROVED, DECLINED, MAKE_TOKENS, checkout_body
from legacy_monolith.demo.processes import free_port, manage, monolith_process, sandbox_process
from legacy_monolith.demo.services import running_product_service
from legacy_monolith.demo.stack import WEBHOOK_SECRET
from tests.e2e.order_stack import NO_VELOCITY_LIMITS

pytestmark = pytest.mark.e2e

SIZE = int(os.environ.get("STOCK_OWNER_DRILL_SIZE", "24"))
STOCK = max(4, SIZE * 2 // 3)  # some left for after the cutover (in-flight checkouts overshoot a third)
CUSTOMERS = 4
PHASES = ("monolith", "freeze", "service")


class Drill:
    def __init__(self, env, monolith, service, customers, product):
        self.env, self.monolith, self.service = env, monolith, service
        self.customers, self.product = customers, product
        self.url = monolith.ready_url.rsplit("/", 1)[0]
        self.outcomes: Counter[tuple[str, str]] = Counter()  # (phase, status or error)
        self.phase = "monolith"
        self.attempts = 0
        self.lock = threading.Lock()
        self.seconds: dict[str, float] = {}

    def db(self, sql: str, args=()) -> list[tuple]:
        conn = psycopg2.connect(self.env["DATABASE_URL"])
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall()
        finally:
            conn.close()

    def service_stock(self) -> int:
        answer = requests.get(f"{self.service.url}/api/v1/catalog/products/{self.product}", timeout=10)
        return answer.json()["stock"]

    def service_ledger(self) -> dict[str, str]:
        conn = psycopg2.connect(self.service.database_url)
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT reference, status FROM product_service_stockledgerentry "
                    "WHERE kind = 'reservation' AND lines <> '[]'::jsonb"  # fenced references hold nothing
                )
                return dict(cur.fetchall())
        finally:
            conn.close()

    def checkout(self, token: str, card: str) -> str:
        headers = {"Authorization": f"Token {token}"}
        try:
            requests.delete(f"{self.url}/api/v1/orders/cart", headers=headers, timeout=30)
            requests.post(
                f"{self.url}/api/v1/orders/cart/items",
                json={"product_id": self.product, "quantity": 1},
                headers=headers,
                timeout=30,
            )
            answer = requests.post(
                f"{self.url}/api/v1/orders/checkout",
                json=checkout_body(card),
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                timeout=60,
            )
        except requests.ConnectionError:
            return "unreachable"  # the monolith restarting (step 1)
        code = answer.json().get("code", "") if answer.status_code >= 400 else ""
        return f"{answer.status_code} {code}".strip()

    def shopper(self, n: int, until: threading.Event) -> None:
        token = self.customers[n]
        while not until.is_set():
            with self.lock:
                card = DECLINED if (self.attempts + 1) % 5 == 0 else APPROVED
                phase = self.phase
            outcome = self.checkout(token, card)
            with self.lock:
                self.outcomes[(phase, outcome)] += 1
                if outcome.split()[0] in ("201", "402", "409"):  # decided: sold, declined or sold out
                    self.attempts += 1
            if outcome == "unreachable" or outcome.startswith("503"):
                until.wait(0.1)  # the monolith restarting, or the freeze: no point hammering it

    def attempts_reach(self, count: int, stop: threading.Event) -> None:
        while not stop.wait(0.05):
            with self.lock:
                if self.attempts >= count:
                    return

    def restart_monolith(self, owner: str) -> None:
        self.monolith.stop()
        self.monolith.env = {**self.monolith.env, "PRODUCT_STOCK_OWNER": owner}
        self.monolith.start(timeout=60)

    def restart_service(self, owner: str) -> None:
        self.service.process.stop()
        self.service.process.env = {**self.service.process.env, "PRODUCT_STOCK_OWNER": owner}
        self.service.start()


@pytest.fixture(scope="module")
def drill(e2e_database_url, tmp_path_factory):
    started = time.monotonic()
    var_dir = tmp_path_factory.mktemp("stock-owner")
    sandbox_port, monolith_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    with running_product_service(var_dir=var_dir / "product", workers=1, threads=8) as service:
        env = {
            "DATABASE_URL": e2e_database_url,
            "STRANGLER_VAR_DIR": str(var_dir / "monolith"),
            "PAYMENT_CARDINAL_URL": f"{sandbox_url}/cardinal",
            "PAYMENT_NORTHPAY_URL": f"{sandbox_url}/northpay",
            "PAYMENT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "PRODUCT_SERVICE_URL": service.url,
            "INTERNAL_API_TOKEN": service.token,
            "PRODUCT_STOCK_OWNER": "monolith",
            "STOCK_CLIENT_READ_TIMEOUT": "2",
            "LOG_LEVEL": "WARNING",
            **NO_VELOCITY_LIMITS,
        }
        manage("migrate", "--noinput", env=env)
        seed = ("--users", str(CUSTOMERS + 3), "--products", "4", "--orders", "0", "--seed", "21")
        manage("seed_techstore", "--no-progress", *seed, env=env)
        tokens = manage("shell", "-c", MAKE_TOKENS.format(count=CUSTOMERS), env=env).stdout
        customers = [line.split()[2] for line in tokens.splitlines() if line.startswith("TOKEN")]
        conn = psycopg2.connect(e2e_database_url)
        with conn, conn.cursor() as cur:
            cur.execute(
                "SELECT id FROM catalog_product WHERE is_active AND weight_grams < 900 ORDER BY id LIMIT 1"
            )
            product = cur.fetchone()[0]
            cur.execute("UPDATE catalog_product SET stock = %s WHERE id = %s", [STOCK, product])
        conn.close()
        manage("sync", "products", "backfill", "--no-progress", env=env)
        logs = var_dir / "logs"
        sandbox = sandbox_process(port=sandbox_port, log_path=logs / "sandbox.log")
        monolith = monolith_process(
            port=monolith_port, env=env, workers=2, threads=4, log_path=logs / "monolith.log"
        )
        sandbox.start()
        monolith.start(timeout=60)
        try:
            drill = Drill(env, monolith, service, customers, product)
            drill.seconds["setup"] = round(time.monotonic() - started, 1)
            yield drill
        finally:
            monolith.stop()
            sandbox.stop()


@pytest.fixture(scope="module")
def cutover(drill):
    """The drill: shoppers all along; the three steps once a third of SIZE is decided, then the rest."""
    done, stop = threading.Event(), threading.Event()
    shoppers = [threading.Thread(target=drill.shopper, args=(n, done)) for n in range(CUSTOMERS)]
    for thread in shoppers:
        thread.start()
    try:
        drill.attempts_reach(SIZE // 3, stop)
        with drill.lock:
            drill.phase = "freeze"
        began = time.monotonic()
        drill.restart_monolith("service")  # step 1: the monolith takes no stock itself from now on
        drill.seconds["step 1"] = round(time.monotonic() - began, 1)
        manage("sync", "products", "backfill", "--restart", "--no-progress", env=drill.env)  # step 2
        drill.seconds["step 2"] = round(time.monotonic() - began - drill.seconds["step 1"], 1)
        with drill.lock:
            drill.phase = "step 3"
        drill.restart_service("service")  # step 3
        drill.seconds["checkouts frozen"] = round(time.monotonic() - began, 1)
        with drill.lock:
            drill.phase = "service"
            start = drill.attempts
        drill.attempts_reach(start + SIZE - SIZE // 3, stop)
    finally:
        done.set()
        for thread in shoppers:
            thread.join(timeout=120)
    return drill


def test_the_cutover_under_checkouts_oversells_nothing(cutover):
    drill = cutover
    statuses = Counter(outcome.split()[0] for (_, outcome) in drill.outcomes.elements())
    assert not {status for status in statuses if status.startswith("5") and status != "503"}, drill.outcomes
    assert set(statuses) <= {"201", "402", "409", "503", "unreachable"}, drill.outcomes
    paid = drill.db(
        "SELECT o.number FROM orders_order o JOIN orders_orderitem i ON i.order_id = o.id "
        "WHERE i.product_id = %s AND o.status = 'paid'",
        [drill.product],
    )
    monolith_stock = drill.db("SELECT stock FROM catalog_product WHERE id = %s", [drill.product])[0][0]
    service_stock = drill.service_stock()
    figures = {
        "checkouts": sum(drill.outcomes.values()),
        "initial_stock": STOCK,
        "paid": len(paid),
        "service_stock": service_stock,
        "monolith_stock": monolith_stock,
        "seconds": drill.seconds,
        "outcomes": {f"{phase}: {outcome}": n for (phase, outcome), n in sorted(drill.outcomes.items())},
    }
    print(json.dumps(figures, sort_keys=True))
    assert service_stock >= 0
    assert monolith_stock >= 0
    assert len(paid) <= STOCK
    ledger = drill.db("SELECT o.number, o.status FROM orders_order o ORDER BY o.id")
    # every paid order counted once, every failed one given back
    assert service_stock == STOCK - len(paid), (ledger, drill.service_ledger())
    assert drill.outcomes[("service", "201")] > 0, "no checkout went through after the cutover"


def test_each_order_took_its_stock_on_one_side_only(cutover):
    drill = cutover
    rows = drill.db(
        "SELECT o.number, o.status, "
        "EXISTS (SELECT 1 FROM catalog_stockmovement m "
        "        WHERE m.reference = o.number AND m.reason = 'reservation') "
        "FROM orders_order o ORDER BY o.id"
    )
    ledger = drill.service_ledger()
    at_monolith = [(number, status) for number, status, in_monolith in rows if in_monolith]
    at_service = [(number, status) for number, status, in_monolith in rows if not in_monolith]
    assert at_monolith, rows
    assert at_service, rows
    for number, _ in at_monolith:  # placed before step 1: never reserved at the service as well
        assert f"order-{number}" not in ledger
    expected = {"paid": "reserved", "payment_failed": "released"}
    for number, status in at_service:  # placed after step 3: held there while paid, given back when not
        assert ledger.get(f"order-{number}") == expected[status], (number, status, ledger)
    # No stock held for a checkout that made no order (a reserve that outlived its timeout was released).
    orders = {f"order-{number}" for number, _ in at_service}
    assert not [ref for ref, status in ledger.items() if status == "reserved" and ref not in orders], ledger


def test_the_product_service_down_is_a_503_that_takes_nothing(cutover):
    drill = cutover
    before = drill.db("SELECT count(*) FROM orders_order")[0][0]
    drill.service.process.stop()
    try:
        outcome = drill.checkout(drill.customers[0], APPROVED)
    finally:
        drill.service.start()
    assert outcome == "503 stock_service_unavailable"
    assert drill.db("SELECT count(*) FROM orders_order")[0][0] == before
    paid = drill.db(
        "SELECT count(*) FROM orders_order o JOIN orders_orderitem i ON i.order_id = o.id "
        "WHERE i.product_id = %s AND o.status = 'paid'",
        [drill.product],
    )[0][0]
    assert drill.service_stock() == STOCK - paid
