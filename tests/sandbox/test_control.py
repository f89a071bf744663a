"""The /_sandbox control plane: knobs, faults, seeded randomness, reset, webhook delivery and replay."""

import hashlib
import hmac
import json
import time

import pytest

from .conftest import SECRET


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_healthz_names_both_gateways_and_their_test_mode_twins(gateways):
    assert gateways.http.get("/_sandbox/healthz").get_json() == {
        "status": "ok",
        "gateways": ["cardinal", "cardinal-test", "northpay", "northpay-test"],
    }


def test_knobs_start_quiet_and_a_put_changes_only_what_it_names(gateways):
    knobs = gateways.http.get("/_sandbox/gateways/cardinal").get_json()
    assert (knobs["latency_ms"], knobs["error_rate"], knobs["timeout_rate"], knobs["decline_rate"]) == (
        0,
        0.0,
        0.0,
        0.0,
    )
    assert knobs["operations"] == ["tokenize", "authorize", "capture", "refund", "status", "void"]
    changed = gateways.knobs("cardinal", error_rate=0.25, latency_ms=5)
    assert (changed["error_rate"], changed["latency_ms"], changed["decline_rate"]) == (0.25, 5, 0.0)
    assert gateways.http.get("/_sandbox/gateways/northpay").get_json()["error_rate"] == 0.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "high"}, "error_rate"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": 1.5}, "latency_ms"),
        ({"operations": ["authorize", "dance"]}, "operations"),
        ({"webhook_url": "ftp://x"}, "webhook_url"),
        ({"seed": "abc"}, "seed"),
        ({"volume": 11}, "volume"),
    ],
)
def test_bad_knobs_are_refused_all_at_once_and_nothing_changes(gateways, changes, field):
    response = gateways.http.put(
        "/_sandbox/gateways/cardinal", json={**changes, "latency_ms": 7} if field != "latency_ms" else changes
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_knobs"
    assert field in response.get_json()["fields"]
    assert gateways.http.get("/_sandbox/gateways/cardinal").get_json()["latency_ms"] == 0


def test_an_unknown_gateway_and_a_non_object_body_are_refused(gateways):
    assert gateways.http.get("/_sandbox/gateways/paypal").status_code == 404
    assert gateways.http.put("/_sandbox/gateways/cardinal", json=[1]).status_code == 400


def test_error_rate_one_answers_503_without_doing_anything(gateways):
    token = gateways.cardinal_token()
    gateways.knobs("cardinal", error_rate=1.0)
    response = gateways.cardinal("POST", "/v1/charges", {"amount": 100, "currency": "EUR", "token": token})
    assert (response.status_code, response.get_json()["error"]["type"]) == (503, "api_error")
    assert gateways.app.extensions["sandbox_gateways"]["cardinal"].charges == {}
    gateways.knobs("northpay", error_rate=1.0)
    response = gateways.northpay("GET", "/api/v2/payments/NPx")
    assert (response.status_code, response.get_json()["errorCode"]) == (503, "SERVICE_UNAVAILABLE")


def test_faults_apply_only_to_the_listed_operations(gateways):
    gateways.knobs("cardinal", error_rate=1.0, operations=["capture"])
    charge = gateways.cardinal_charge()
    assert charge.status_code == 201
    capture = gateways.cardinal("POST", f"/v1/charges/{charge.get_json()['id']}/capture")
    assert capture.status_code == 503


def test_decline_rate_one_declines_good_cards_as_do_not_honor(gateways):
    gateways.knobs("cardinal", decline_rate=1.0)
    assert gateways.cardinal_charge().get_json()["decline_code"] == "do_not_honor"
    gateways.knobs("northpay", decline_rate=1.0)
    assert gateways.northpay_payment().get_json()["refusalReason"] == "Do Not Honor"


def test_latency_delays_every_answer(gateways):
    gateways.knobs("cardinal", latency_ms=150)
    started = time.monotonic()
    gateways.cardinal("GET", "/v1/charges/ch_missing")
    assert time.monotonic() - started >= 0.15


def test_a_timeout_holds_the_answer_but_the_work_is_done(gateways):
    token = gateways.cardinal_token()
    gateways.knobs("cardinal", timeout_rate=1.0, timeout_seconds=0.3, operations=["authorize"])
    started = time.monotonic()
    response = gateways.cardinal(
        "POST", "/v1/charges", {"amount": 100, "currency": "EUR", "token": token}, key="slow"
    )
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 201
    assert (
        gateways.cardinal("GET", "/v1/idempotency_keys/slow").get_json()["resource"]["id"]
        == response.get_json()["id"]
    )


def outcomes(gateways, n: int = 20) -> list[int]:
    return [gateways.cardinal("GET", "/v1/charges/ch_missing").status_code for _ in range(n)]


def test_a_seeded_fault_sequence_is_reproducible(gateways):
    gateways.http.post("/_sandbox/reset", json={"seed": 7})
    gateways.knobs("cardinal", error_rate=0.5)
    first = outcomes(gateways)
    gateways.http.post("/_sandbox/reset", json={"seed": 7})
    gateways.knobs("cardinal", error_rate=0.5)
    assert outcomes(gateways) == first
    assert set(first) == {404, 503}
    gateways.knobs("cardinal", seed=8)
    assert outcomes(gateways) != first


def test_reset_forgets_state_and_restores_the_start_knobs(gateways):
    gateways.cardinal_charge()
    gateways.knobs("cardinal", error_rate=1.0, webhook_url="http://127.0.0.1:1/x")
    assert gateways.http.post("/_sandbox/reset", json={}).get_json() == {"status": "reset", "seed": None}
    knobs = gateways.http.get("/_sandbox/gateways/cardinal").get_json()
    assert (knobs["error_rate"], knobs["webhook_url"], knobs["api_key"]) == (0.0, "", "test-api-key")
    assert gateways.http.get("/_sandbox/gateways/cardinal/charges").get_json() == {"charges": []}
    assert gateways.http.post("/_sandbox/reset", json={"seed": "x"}).status_code == 400


def test_events_are_delivered_signed_to_the_webhook_url(gateways, receiver):
    gateways.knobs("cardinal", webhook_url=receiver.url)
    charge_id = gateways.cardinal_charge().get_json()["id"]
    gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture")
    wait_for(lambda: receiver.requests)
    [delivery] = receiver.requests
    body, headers = delivery["body"], delivery["headers"]
    event = json.loads(body)
    assert (event["type"], event["gateway"], event["data"]["id"]) == (
        "charge.captured",
        "cardinal",
        charge_id,
    )
    assert headers["X-Sandbox-Event-Id"] == event["id"]
    timestamp, signature = (part.split("=", 1)[1] for part in headers["X-Sandbox-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == expected
    assert abs(int(timestamp) - time.time()) < 10


def test_a_failed_delivery_is_retried_until_it_succeeds(gateways, receiver):
    receiver.statuses = [500, 503]
    gateways.knobs("cardinal", webhook_url=receiver.url, webhook_retry_delay_ms=10, webhook_max_attempts=4)
    gateways.cardinal_charge(amount=100)
    charge_id = gateways.cardinal_charge().get_json()["id"]
    gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture")
    wait_for(
        lambda: len(gateways.http.get("/_sandbox/gateways/cardinal/webhooks").get_json()["deliveries"]) == 3
    )
    deliveries = gateways.http.get("/_sandbox/gateways/cardinal/webhooks").get_json()["deliveries"]
    assert [(d["attempt"], d["response_status"]) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]
    assert len({json.loads(r["body"])["id"] for r in receiver.requests}) == 1


def test_an_unreachable_webhook_url_is_retried_up_to_the_limit(gateways):
    gateways.knobs(
        "cardinal", webhook_url="http://127.0.0.1:9/hooks", webhook_retry_delay_ms=5, webhook_max_attempts=2
    )
    charge_id = gateways.cardinal_charge().get_json()["id"]
    gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture")
    wait_for(
        lambda: len(gateways.http.get("/_sandbox/gateways/cardinal/webhooks").get_json()["deliveries"]) == 2
    )
    time.sleep(0.1)
    deliveries = gateways.http.get("/_sandbox/gateways/cardinal/webhooks").get_json()["deliveries"]
    assert [d["response_status"] for d in deliveries] == [None, None]
    assert all(d["error"] for d in deliveries)


def test_an_event_can_be_replayed_on_demand(gateways, receiver):
    charge_id = gateways.cardinal_charge().get_json()["id"]
    gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture")
    [event] = gateways.http.get("/_sandbox/gateways/cardinal/webhooks").get_json()["events"]
    assert gateways.http.post(f"/_sandbox/gateways/cardinal/webhooks/replay/{event['id']}").status_code == 409
    gateways.knobs("cardinal", webhook_url=receiver.url)
    replay = gateways.http.post(f"/_sandbox/gateways/cardinal/webhooks/replay/{event['id']}").get_json()
    assert (replay["trigger"], replay["response_status"], replay["event_id"]) == ("replay", 200, event["id"])
    assert json.loads(receiver.requests[0]["body"])["id"] == event["id"]
    missing = gateways.http.post("/_sandbox/gateways/cardinal/webhooks/replay/evt_missing")
    assert (missing.status_code, missing.get_json()["error"]) == (404, "event_not_found")


def test_an_oversized_body_is_refused(gateways):
    response = gateways.cardinal("POST", "/v1/tokens", {"card": {"number": "4" * 100_000}})
    assert response.status_code == 413


def test_test_mode_has_its_own_key_and_ledger_and_never_touches_the_live_one(gateways):
    test_key = {"Authorization": "Bearer dev-only-gateway-test-key"}
    card = {"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    token = gateways.http.post("/cardinal-test/v1/tokens", json=card, headers=test_key).get_json()["id"]
    charge = gateways.http.post(
        "/cardinal-test/v1/charges", json={"amount": 500, "currency": "EUR", "token": token}, headers=test_key
    )
    assert charge.status_code == 201
    assert len(gateways.http.get("/_sandbox/gateways/cardinal-test/charges").get_json()["charges"]) == 1
    assert gateways.http.get("/_sandbox/gateways/cardinal/charges").get_json()["charges"] == []
    assert gateways.http.post("/cardinal/v1/tokens", json=card, headers=test_key).status_code == 401
    live_key = gateways.cardinal("POST", "/v1/tokens", card)  # the live key: fine on live...
    assert live_key.status_code == 201
    test_with_live_key = gateways.http.post(
        "/cardinal-test/v1/tokens", json=card, headers={"Authorization": "Bearer test-api-key"}
    )
    assert test_with_live_key.status_code == 401  # ...and refused by test mode
