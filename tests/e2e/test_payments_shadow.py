"""Shadow mode for payments, all real processes: the monolith (gunicorn, PostgreSQL, seeded), the sandbox,
the Payment service (gunicorn, its worker, its own database), the gateway with the shipped route table and
route.payments.shadow on, and the comparator (`manage.py shadow worker`, report, gate).

Demo journeys check out through the gateway: each customer is charged exactly once, in the live ledger;
the mirrored copies ran against the providers' test mode and left no payment, refund, event or audit row
in the Payment service. `shadow gate payments.charge` passes on that traffic. A behaviour difference
planted in the candidate (one more point for `country_mismatch`) is reported on exactly `fraud_score`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests
import yaml

from legacy_monolith.demo.__main__ import DEMO_STAFF
from legacy_monolith.demo.journey import SHIPPING, Journey
from legacy_monolith.demo.payments import running_payment_service
from legacy_monolith.demo.processes import ProcessStartError, manage
from legacy_monolith.demo.stack import running_stack
from tests.background import wait_until
from tests.e2e.databases import throwaway_database
from tests.strangler_proxy.conftest import start_gateway, write_flags_file

pytestmark = pytest.mark.e2e

JOURNEYS = 3
SHIPPED_ROUTES = Path(__file__).resolve().parents[2] / "strangler_proxy" / "routes.yaml"
US_CARD = {"number": "4111111111111111", "exp_month": 12, "exp_year": 2030, "cvc": "123"}  # issued in the US


@pytest.fixture(scope="module")
def shadow_stack(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("payments-shadow")
    with (
        running_stack(database_url=e2e_database_url, var_dir=var_dir) as stack,
        throwaway_database("shadow_payments") as shadow_db,
        running_payment_service(
            var_dir=var_dir / "payments",
            sandbox_url=stack.sandbox_url,
            # The planted difference: the candidate scores country_mismatch 16, the monolith 15.
            env={
                "MONOLITH_URL": stack.monolith_url,
                "PAYMENT_ORDER_LOOKUP_URL": stack.monolith_url,
                "PAYMENT_FRAUD_WEIGHTS": "country_mismatch=16",
            },
            workers=1,
        ) as payments,
    ):
        flags = write_flags_file(var_dir / "flags.json", enabled={"route.payments.shadow": True})
        routes = payment_routes(var_dir / "routes.yaml")
        queue_url = f"file://{var_dir / 'shadow-queue'}"
        gateway = start_gateway(
            log_path=var_dir / "gateway.log",
            routes_yaml=routes,
            flags_file=flags,
            env={"SHADOW_QUEUE_URL": queue_url, "PAYMENT_SERVICE_URL": payments.url},
            legacy_url=stack.monolith_url,
        )
        shadow_env = {"DATABASE_URL": shadow_db, "SHADOW_DATABASE_URL": shadow_db}
        manage("migrate", "shadow", "--database", "shadow", "--noinput", env=shadow_env)
        try:
            yield {
                "stack": stack,
                "payments": payments,
                "gateway": gateway,
                "queue": queue_url,
                "shadow_env": shadow_env,
            }
        finally:
            gateway.stop()


def payment_routes(path: Path) -> Path:
    """The shipped table's upstreams, defaults and payments.* routes, first (in the shipped table the orders
    stage's orders.checkout matches checkout before payments.charge: the shadow phase's runbook puts the
    payment routes first, as here)."""
    shipped = yaml.safe_load(SHIPPED_ROUTES.read_text(encoding="utf-8"))
    mine = [route for route in shipped["routes"] if route["id"].startswith("payments.")]
    assert [route["id"] for route in mine] == ["payments.charge", "payments.read"]
    path.write_text(yaml.safe_dump({**shipped, "routes": mine}, sort_keys=False), encoding="utf-8")
    return path


def payment_rows(payments) -> dict[str, int]:
    with psycopg2.connect(payments.database_url) as conn, conn.cursor() as cursor:
        counts = {}
        for table in (
            "payment_service_payment",
            "payment_service_refund",
            "payment_service_auditentry",
            "chassis_outbox_event",
            "payment_service_shadowcharge",
        ):
            settled = " WHERE status <> 'claimed'" if table.endswith("shadowcharge") else ""
            cursor.execute(f"SELECT count(*) FROM {table}{settled}")
            counts[table] = cursor.fetchone()[0]
    conn.close()
    return counts


def ledger(stack, gateway: str) -> list[dict]:
    return requests.get(f"{stack.sandbox_url}/_sandbox/gateways/{gateway}/charges", timeout=5).json()[
        "charges"
    ]


def compare(shadow_stack, expected: int) -> None:
    """Run the comparator until `expected` pairs arrived (the gateway publishes in the background)."""
    received = 0
    for _ in range(40):
        worker = manage(
            "shadow", "worker", "--once", "--queue", shadow_stack["queue"], "--idle-timeout", "0.5", "--json",
            env=shadow_stack["shadow_env"],
        )  # fmt: skip
        received += json.loads(worker.stdout)["received"]
        if received >= expected:
            return
    raise AssertionError(f"only {received} of {expected} shadow pairs arrived")


def test_checkouts_are_charged_once_and_the_mirrored_copies_move_no_money(shadow_stack):
    stack, payments, gateway = shadow_stack["stack"], shadow_stack["payments"], shadow_stack["gateway"]
    for _ in range(JOURNEYS):
        result = Journey(
            base_url=gateway.url,
            sandbox_url=stack.sandbox_url,
            webhook_secret=stack.webhook_secret,
            staff_username=DEMO_STAFF[0],
            staff_password=DEMO_STAFF[1],
        ).run()
        assert result.final_order_status == "refunded"
    wait_until(
        lambda: payment_rows(payments)["payment_service_shadowcharge"] == JOURNEYS, "the shadow copies", 60
    )

    live, test = ledger(stack, "cardinal"), ledger(stack, "cardinal-test")
    assert len(live) == JOURNEYS  # each customer charged exactly once (the replayed checkout charged nothing)
    assert all(charge["amount_refunded"] == charge["amount_captured"] for charge in live)
    assert len(test) == JOURNEYS  # the candidate's charges: the test mode's ledger only
    rows = payment_rows(payments)
    assert rows == {
        "payment_service_payment": 0,
        "payment_service_refund": 0,
        "payment_service_auditentry": 0,
        "chassis_outbox_event": 0,
        "payment_service_shadowcharge": JOURNEYS,
    }

    compare(shadow_stack, 2 * JOURNEYS)  # each journey: the checkout and its replay
    report = manage("shadow", "report", "--format", "json", env=shadow_stack["shadow_env"]).stdout
    try:
        gate = manage(
            "shadow", "gate", "payments.charge", "--min-match", "100", "--min-samples", str(2 * JOURNEYS),
            "--json", env=shadow_stack["shadow_env"],
        )  # fmt: skip
    except ProcessStartError as exc:  # exit 1: the gate said no; show why, with the report's examples
        raise AssertionError(f"{exc}\n{report}") from None
    assert json.loads(gate.stdout)["passed"] is True


def test_a_planted_antifraud_difference_is_reported_on_fraud_score(shadow_stack):
    payments, gateway = shadow_stack["payments"], shadow_stack["gateway"]
    http = requests.Session()
    username = f"shadow-{uuid.uuid4().hex[:8]}"
    password = f"Pw-{uuid.uuid4().hex}"
    api = f"{gateway.url}/api/v1"
    http.post(
        f"{api}/accounts/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
        timeout=10,
    ).raise_for_status()
    token = http.post(
        f"{api}/accounts/tokens", json={"username": username, "password": password}, timeout=10
    ).json()["token"]
    http.headers["Authorization"] = f"Token {token}"
    product = http.get(
        f"{api}/catalog/products", params={"in_stock": "true", "ordering": "-stock"}, timeout=10
    ).json()["results"][0]
    http.post(
        f"{api}/orders/cart/items", json={"product_id": product["id"], "quantity": 1}, timeout=10
    ).raise_for_status()
    before = payment_rows(payments)["payment_service_shadowcharge"]
    order = http.post(
        f"{api}/orders/checkout",
        json={"shipping": SHIPPING, "payment": {"gateway": "cardinal", "card": US_CARD}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
        timeout=30,
    )
    assert order.status_code == 201, order.text
    wait_until(
        lambda: payment_rows(payments)["payment_service_shadowcharge"] == before + 1, "the shadow copy", 60
    )
    read = http.get(f"{api}/payments/{order.json()['payment']['id']}", timeout=10)
    assert read.json()["fraud_score"] == 15  # the client always gets the monolith's answer

    compare(shadow_stack, 2)  # the checkout and the read
    report = json.loads(manage("shadow", "report", "--format", "json", env=shadow_stack["shadow_env"]).stdout)
    routes = {route["route"]: route for route in report["routes"]}
    assert [path["path"] for path in routes["payments.read"]["paths"] if path["real"]] == ["body.fraud_score"]
    assert not [path for path in routes["payments.charge"]["paths"] if path["real"]]
