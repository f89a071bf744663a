"""The whole monolith as users run it: gunicorn, the sandbox gateways, PostgreSQL, over HTTP."""

import json
from decimal import Decimal

import pytest
import requests

from legacy_monolith.demo.__main__ import DEMO_STAFF
from legacy_monolith.demo.journey import Journey
from legacy_monolith.demo.stack import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(e2e_database_url, tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("e2e-var")
    with running_stack(database_url=e2e_database_url, var_dir=var_dir) as running:
        yield running


def test_register_browse_cart_coupon_checkout_webhook_refund_completes(stack):
    journey = Journey(
        base_url=stack.monolith_url,
        sandbox_url=stack.sandbox_url,
        webhook_secret=stack.webhook_secret,
        staff_username=DEMO_STAFF[0],
        staff_password=DEMO_STAFF[1],
    )
    result = journey.run()

    names = [step.name for step in result.steps]
    for expected in (
        "register",
        "log in",
        "filter products",
        "text search",
        "add to cart",
        "validate coupon",
        "checkout",
        "checkout replay",
        "webhook",
        "refund",
        "order history",
    ):
        assert expected in names
    assert names.index("register") < names.index("checkout") < names.index("webhook") < names.index("refund")
    assert result.webhook_events == ["charge.captured"]
    assert result.refunded == result.order_total > Decimal(0)
    assert result.final_order_status == "refunded"


def test_the_monolith_logs_json_lines_that_carry_the_request_id(stack):
    response = requests.get(
        f"{stack.monolith_url}/api/v1/catalog/products/999999999",
        headers={"X-Request-ID": "e2e-log-probe"},
        timeout=5,
    )
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "e2e-log-probe"
    assert response.json()["code"] == "product_not_found"
    log_path = f"{stack.env['STRANGLER_VAR_DIR']}/logs/monolith.log"
    records = []
    with open(log_path) as log:
        for line in log:
            try:
                records.append(json.loads(line))
            except ValueError:
                continue  # gunicorn's own start-up lines are not ours
    assert any(r.get("request_id") == "e2e-log-probe" for r in records)


def test_bad_input_over_the_wire_gets_a_4xx_json_body_never_a_500(stack):
    api = f"{stack.monolith_url}/api/v1"
    cases = [
        ("POST", f"{api}/accounts/register", b"{not json", 400),
        ("POST", f"{api}/accounts/register", b'{"username": 5, "email": [], "password": null}', 400),
        ("GET", f"{api}/catalog/products?min_price=abc", None, 400),
        ("POST", f"{api}/orders/checkout", b"{}", 401),
        ("POST", f"{api}/accounts/register", b"x" * (2 * 1024 * 1024), 413),
    ]
    for method, url, body, status in cases:
        response = requests.request(
            method, url, data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert response.status_code == status, (method, url, response.text[:200])
        assert set(response.json()) == {"code", "message", "extra"}
