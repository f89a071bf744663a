"""northpay's API: decimal strings, camelCase, X-API-Key, upper-case states, asynchronous refunds."""

import time

import pytest


def test_tokenizing_returns_a_card_summary_in_northpays_shape(gateways):
    body = {"cardNumber": "5555555555554444", "expiryMonth": "03", "expiryYear": "2031", "cvc": "123"}
    response = gateways.northpay("POST", "/api/v2/tokens", body)
    assert response.status_code == 200
    summary = response.get_json()["cardSummary"]
    assert summary == {
        "brand": "MASTERCARD",
        "bin": "555555",
        "lastFour": "4444",
        "issuerCountry": "DE",
        "expiry": "03/2031",
    }
    assert response.get_json()["paymentToken"].startswith("NPT")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"cardNumber": "4242424242424241"}, "CARD_NUMBER_INVALID"),
        ({"expiryYear": "2001"}, "CARD_EXPIRED"),
        ({"expiryMonth": 12}, "EXPIRY_INVALID"),
        ({"cvc": "1"}, "CVC_INVALID"),
    ],
)
def test_a_bad_card_is_a_422_with_an_error_code(gateways, overrides, code):
    body = {
        "cardNumber": "4242424242424242",
        "expiryMonth": "12",
        "expiryYear": "2030",
        "cvc": "123",
        **overrides,
    }
    response = gateways.northpay("POST", "/api/v2/tokens", body)
    assert response.status_code == 422
    assert response.get_json()["errorCode"] == code
    assert response.get_json()["errorType"] == "validation"


@pytest.mark.parametrize(
    ("number", "state", "reason"),
    [
        ("4242424242424242", "AUTHORISED", None),
        ("4000000000000002", "REFUSED", "Refused"),
        ("4000000000009995", "REFUSED", "Not enough balance"),
    ],
)
def test_authorizing_answers_a_state_and_a_refusal_reason(gateways, number, state, reason):
    payment = gateways.northpay_payment(number=number).get_json()
    assert (payment["state"], payment["refusalReason"]) == (state, reason)
    assert (payment["value"], payment["currencyCode"], payment["capturedValue"]) == ("19.99", "EUR", "0.00")
    assert payment["transactionId"].startswith("NP")


def test_a_refund_is_received_then_settles_and_sends_refund_succeeded(gateways):
    gateways.knobs("northpay", refund_settle_ms=50)
    tx = gateways.northpay_payment(value="10.00").get_json()["transactionId"]
    captured = gateways.northpay("POST", f"/api/v2/payments/{tx}/captures").get_json()
    assert (captured["state"], captured["capturedValue"]) == ("CAPTURED", "10.00")
    refund = gateways.northpay(
        "POST", f"/api/v2/payments/{tx}/refunds", {"value": "2.50", "merchantReference": "m-1"}
    )
    assert refund.status_code == 202
    assert (refund.get_json()["state"], refund.get_json()["value"]) == ("RECEIVED", "2.50")
    refund_id = refund.get_json()["refundId"]
    deadline = time.monotonic() + 3
    while gateways.northpay("GET", f"/api/v2/refunds/{refund_id}").get_json()["state"] != "REFUNDED":
        assert time.monotonic() < deadline, "the refund never settled"
        time.sleep(0.02)
    payment = gateways.northpay("GET", f"/api/v2/payments/{tx}").get_json()
    assert (payment["state"], payment["refundedValue"]) == ("PARTIALLY_REFUNDED", "2.50")
    events = gateways.http.get("/_sandbox/gateways/northpay/webhooks").get_json()["events"]
    assert [e["type"] for e in events] == ["charge.captured", "refund.succeeded"]
    assert events[1]["data"]["merchantReference"] == "m-1"


def test_refunds_never_exceed_the_captured_value(gateways):
    tx = gateways.northpay_payment(value="10.00").get_json()["transactionId"]
    gateways.northpay("POST", f"/api/v2/payments/{tx}/captures", {"value": "8.00"})
    response = gateways.northpay("POST", f"/api/v2/payments/{tx}/refunds", {"value": "8.01"})
    assert (response.status_code, response.get_json()["errorCode"]) == (422, "VALUE_EXCEEDS_LIMIT")
    full = gateways.northpay("POST", f"/api/v2/payments/{tx}/refunds", {})
    assert full.get_json()["value"] == "8.00"
    assert gateways.northpay("GET", f"/api/v2/payments/{tx}").get_json()["state"] == "REFUNDED"


@pytest.mark.parametrize("value", ["19.999", "-1.00", "0.00", "abc", 19.99, ""])
def test_a_bad_value_is_a_422(gateways, value):
    body = {"value": value, "currencyCode": "EUR", "paymentToken": gateways.northpay_token()}
    response = gateways.northpay("POST", "/api/v2/payments", body)
    assert (response.status_code, response.get_json()["errorCode"]) == (422, "VALIDATION_FAILED")


def test_a_reused_idempotency_key_with_another_body_is_a_422(gateways):
    token = gateways.northpay_token()
    body = {"value": "5.00", "currencyCode": "EUR", "paymentToken": token}
    first = gateways.northpay("POST", "/api/v2/payments", body, key="np-key")
    assert gateways.northpay("POST", "/api/v2/payments", body, key="np-key").get_json() == first.get_json()
    other = gateways.northpay("POST", "/api/v2/payments", {**body, "value": "6.00"}, key="np-key")
    assert (other.status_code, other.get_json()["errorCode"]) == (422, "IDEMPOTENCY_KEY_CONFLICT")


def test_a_payment_and_a_refund_can_be_looked_up_by_idempotency_key(gateways):
    tx = gateways.northpay_payment(key="np-auth").get_json()["transactionId"]
    gateways.northpay("POST", f"/api/v2/payments/{tx}/captures")
    refund_id = gateways.northpay(
        "POST", f"/api/v2/payments/{tx}/refunds", {"value": "1.00"}, key="np-ref"
    ).get_json()["refundId"]
    payment = gateways.northpay("GET", "/api/v2/lookup?idempotencyKey=np-auth").get_json()
    assert (payment["resourceType"], payment["payment"]["transactionId"], payment["refund"]) == (
        "PAYMENT",
        tx,
        None,
    )
    refund = gateways.northpay("GET", "/api/v2/lookup?idempotencyKey=np-ref").get_json()
    assert (refund["resourceType"], refund["refund"]["refundId"]) == ("REFUND", refund_id)
    missing = gateways.northpay("GET", "/api/v2/lookup?idempotencyKey=nope")
    assert (missing.status_code, missing.get_json()["errorCode"]) == (404, "NOT_FOUND")


def test_a_wrong_api_key_is_a_401_in_northpays_shape(gateways):
    response = gateways.northpay("GET", "/api/v2/payments/NPx", api_key="wrong")
    assert response.status_code == 401
    assert response.get_json() == {
        "status": 401,
        "errorCode": "UNAUTHORISED",
        "message": "Missing or wrong API key",
        "errorType": "security",
    }


def test_the_cardinal_key_header_is_not_accepted_by_northpay(gateways):
    response = gateways.http.get(
        "/northpay/api/v2/payments/NPx", headers={"Authorization": "Bearer test-api-key"}
    )
    assert response.status_code == 401


def test_an_authorization_can_be_cancelled_but_not_a_capture(gateways):
    payment = gateways.northpay_payment(value="7.00").get_json()
    cancelled = gateways.northpay("POST", f"/api/v2/payments/{payment['transactionId']}/cancels", {})
    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "CANCELLED"
    captured = gateways.northpay_payment(value="8.00").get_json()
    gateways.northpay("POST", f"/api/v2/payments/{captured['transactionId']}/captures", {})
    refused = gateways.northpay("POST", f"/api/v2/payments/{captured['transactionId']}/cancels", {})
    assert refused.status_code == 422
    assert refused.get_json()["errorCode"] == "NOT_CANCELLABLE"
