"""The sandbox as the monolith meets it: a real process on a real port (the `sandbox` fixture)."""

import pytest
import requests

from legacy_monolith.payments.gateways import CardDetails, GatewayUnavailable, gateway_client

CARD = CardDetails(number="4242424242424242", exp_month=1, exp_year=2099, cvc="123")


def test_the_fixture_points_the_monolith_settings_at_the_running_sandbox(sandbox, settings):
    configured = dict(settings.PAYMENT_GATEWAYS)
    assert configured == {"cardinal": sandbox.url("cardinal"), "northpay": sandbox.url("northpay")}
    assert requests.get(f"{sandbox.base_url}/_sandbox/healthz", timeout=2).json()["status"] == "ok"
    assert sandbox.knobs("cardinal")["webhook_secret"] == settings.PAYMENT_WEBHOOK_SECRET


def test_a_client_read_timeout_happens_while_the_sandbox_still_does_the_work(sandbox, settings):
    sandbox.set_knobs("cardinal", timeout_rate=1.0, timeout_seconds=1.0, operations=["authorize"])
    headers = {"Authorization": f"Bearer {settings.PAYMENT_API_KEY}"}
    token = gateway_client("cardinal").tokenize(CARD).token
    with pytest.raises(requests.ReadTimeout):
        requests.post(
            f"{sandbox.url('cardinal')}/v1/charges",
            json={"amount": 500, "currency": "EUR", "token": token},
            headers={**headers, "Idempotency-Key": "held"},
            timeout=(1, 0.2),
        )
    found = requests.get(
        f"{sandbox.url('cardinal')}/v1/idempotency_keys/held", headers=headers, timeout=2
    ).json()
    assert found["resource"]["amount"] == 500


def test_knobs_set_while_running_apply_to_the_next_request(sandbox):
    client = gateway_client("northpay")
    assert client.tokenize(CARD).country == "FR"
    sandbox.set_knobs("northpay", error_rate=1.0, operations=["tokenize"])
    with pytest.raises(GatewayUnavailable):
        client.tokenize(CARD)


def test_each_test_starts_from_a_reset_sandbox(sandbox):
    assert sandbox.knobs("northpay")["error_rate"] == 0.0
    assert sandbox.charges("cardinal") == []
