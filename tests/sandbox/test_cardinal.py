"""cardinal's API: minor units, snake_case, Bearer auth, Stripe-like errors."""

import pytest


@pytest.mark.parametrize(
    ("number", "brand", "country"),
    [
        ("4242424242424242", "visa", "FR"),
        ("4000000000000002", "visa", "US"),
        ("5555555555554444", "mastercard", "DE"),
        ("4012888888881881", "visa", "GB"),
        ("4111111111111111", "visa", "US"),
    ],
)
def test_tokenizing_returns_a_token_and_the_card_facts_but_never_the_number(gateways, number, brand, country):
    response = gateways.cardinal(
        "POST", "/v1/tokens", {"card": {"number": number, "exp_month": 1, "exp_year": 2099, "cvc": "123"}}
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"].startswith("tok_")
    assert body["card"] == {
        "brand": brand,
        "bin": number[:6],
        "last4": number[-4:],
        "country": country,
        "exp_month": 1,
        "exp_year": 2099,
    }
    assert number not in response.get_data(as_text=True)


def test_an_amex_card_needs_a_four_digit_cvc(gateways):
    card = {"number": "378282246310005", "exp_month": 1, "exp_year": 2099}
    assert gateways.cardinal("POST", "/v1/tokens", {"card": {**card, "cvc": "1234"}}).status_code == 201
    bad = gateways.cardinal("POST", "/v1/tokens", {"card": {**card, "cvc": "123"}})
    assert bad.get_json()["error"]["code"] == "invalid_cvc"


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ({"number": "4242424242424241"}, "invalid_number"),
        ({"number": "1234"}, "invalid_number"),
        ({"number": 4242424242424242}, "invalid_number"),
        ({"exp_month": 13}, "invalid_expiry_month"),
        ({"exp_month": "12"}, "invalid_expiry_month"),
        ({"exp_year": 99}, "invalid_expiry_year"),
        ({"exp_year": 2001}, "expired_card"),
        ({"cvc": "12"}, "invalid_cvc"),
        ({"cvc": None}, "invalid_cvc"),
    ],
)
def test_a_bad_card_is_refused_at_tokenization_with_400(gateways, card, code):
    good = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    response = gateways.cardinal("POST", "/v1/tokens", {"card": {**good, **card}})
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "type": "card_error",
        "code": code,
        "message": response.get_json()["error"]["message"],
    }


@pytest.mark.parametrize(
    ("number", "status", "decline_code"),
    [
        ("4242424242424242", "authorized", None),
        ("4000000000000002", "declined", "card_declined"),
        ("4000000000009995", "declined", "insufficient_funds"),
    ],
)
def test_authorizing_gives_a_charge_or_a_decline(gateways, number, status, decline_code):
    response = gateways.cardinal_charge(number=number)
    assert response.status_code == 201
    charge = response.get_json()
    assert (charge["object"], charge["status"], charge["decline_code"]) == ("charge", status, decline_code)
    assert (charge["amount"], charge["currency"], charge["captured"]) == (1999, "eur", False)
    assert charge["id"].startswith("ch_")


def test_capture_then_partial_and_full_refunds_never_above_the_captured_amount(gateways):
    charge_id = gateways.cardinal_charge(amount=1000).get_json()["id"]
    captured = gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture").get_json()
    assert (captured["status"], captured["captured"], captured["amount_captured"]) == (
        "succeeded",
        True,
        1000,
    )
    part = gateways.cardinal(
        "POST", f"/v1/charges/{charge_id}/refunds", {"amount": 300, "metadata": {"reference": "r1"}}
    )
    assert part.status_code == 201
    assert part.get_json()["amount"] == 300
    assert part.get_json()["status"] == "succeeded"
    assert part.get_json()["metadata"] == {"reference": "r1"}
    too_much = gateways.cardinal("POST", f"/v1/charges/{charge_id}/refunds", {"amount": 701})
    assert (too_much.status_code, too_much.get_json()["error"]["code"]) == (400, "amount_too_large")
    rest = gateways.cardinal("POST", f"/v1/charges/{charge_id}/refunds", {})
    assert rest.get_json()["amount"] == 700
    after = gateways.cardinal("GET", f"/v1/charges/{charge_id}").get_json()
    assert (after["amount_refunded"], after["refunded"], len(after["refunds"])) == (1000, True, 2)
    done = gateways.cardinal("POST", f"/v1/charges/{charge_id}/refunds", {"amount": 1})
    assert (done.status_code, done.get_json()["error"]["code"]) == (409, "not_refundable")


def test_a_declined_charge_cannot_be_captured_and_an_uncaptured_one_cannot_be_refunded(gateways):
    declined = gateways.cardinal_charge(number="4000000000000002").get_json()["id"]
    response = gateways.cardinal("POST", f"/v1/charges/{declined}/capture")
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "not_capturable")
    authorized = gateways.cardinal_charge().get_json()["id"]
    response = gateways.cardinal("POST", f"/v1/charges/{authorized}/refunds", {})
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "not_refundable")


def test_capturing_more_than_authorized_is_refused(gateways):
    charge_id = gateways.cardinal_charge(amount=500).get_json()["id"]
    response = gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture", {"amount": 501})
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "amount_too_large")


def test_the_same_idempotency_key_and_body_replays_the_first_answer(gateways):
    token = gateways.cardinal_token()
    body = {"amount": 1999, "currency": "EUR", "token": token}
    first = gateways.cardinal("POST", "/v1/charges", body, key="idem-1")
    again = gateways.cardinal("POST", "/v1/charges", body, key="idem-1")
    assert again.get_json() == first.get_json()
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(gateways.app.extensions["sandbox_gateways"]["cardinal"].charges) == 1


def test_the_same_idempotency_key_with_another_body_is_a_409(gateways):
    token = gateways.cardinal_token()
    gateways.cardinal(
        "POST", "/v1/charges", {"amount": 1999, "currency": "EUR", "token": token}, key="idem-2"
    )
    response = gateways.cardinal(
        "POST", "/v1/charges", {"amount": 2000, "currency": "EUR", "token": token}, key="idem-2"
    )
    assert response.status_code == 409
    assert response.get_json()["error"]["type"] == "idempotency_error"


def test_a_request_can_be_looked_up_by_its_idempotency_key(gateways):
    charge_id = gateways.cardinal_charge(key="look-me-up").get_json()["id"]
    gateways.cardinal("POST", f"/v1/charges/{charge_id}/capture", key="capture-key")
    found = gateways.cardinal("GET", "/v1/idempotency_keys/look-me-up").get_json()
    assert (found["response_status"], found["resource"]["id"]) == (201, charge_id)
    assert found["resource"]["status"] == "succeeded"  # the resource as it is now
    missing = gateways.cardinal("GET", "/v1/idempotency_keys/never-sent")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "19.99", "currency": "EUR"},
        {"amount": 19.99, "currency": "EUR"},
        {"amount": 0, "currency": "EUR"},
        {"amount": -5, "currency": "EUR"},
        {"amount": True, "currency": "EUR"},
        {"amount": 1999, "currency": "EURO"},
        {"amount": 1999},
    ],
)
def test_bad_charge_input_is_a_400(gateways, body):
    response = gateways.cardinal("POST", "/v1/charges", {**body, "token": gateways.cardinal_token()})
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_request")


def test_an_unknown_token_is_refused(gateways):
    response = gateways.cardinal(
        "POST", "/v1/charges", {"amount": 100, "currency": "EUR", "token": "tok_nope"}
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "token_unknown")


def test_a_malformed_body_is_a_400(gateways):
    response = gateways.http.post(
        "/cardinal/v1/charges",
        data="{nope",
        headers={"Authorization": "Bearer test-api-key"},
        content_type="application/json",
    )
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "malformed_request")


@pytest.mark.parametrize("api_key", ["", "wrong"])
def test_a_missing_or_wrong_api_key_is_a_401(gateways, api_key):
    response = gateways.cardinal("GET", "/v1/charges/ch_x", api_key=api_key)
    assert response.status_code == 401
    assert response.get_json()["error"]["type"] == "authentication_error"


def test_unknown_charges_and_routes_are_404s_in_cardinals_shape(gateways):
    assert gateways.cardinal("GET", "/v1/charges/ch_missing").get_json()["error"]["code"] == "not_found"
    response = gateways.cardinal("GET", "/v2/whatever")
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "not_found")


def test_an_authorization_can_be_voided_once_and_then_not_captured(gateways):
    charge = gateways.cardinal_charge(amount=700).get_json()
    voided = gateways.cardinal("POST", f"/v1/charges/{charge['id']}/cancel", {}, key="void-1")
    assert voided.status_code == 200
    assert voided.get_json()["status"] == "canceled"
    replay = gateways.cardinal("POST", f"/v1/charges/{charge['id']}/cancel", {}, key="void-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    again = gateways.cardinal("POST", f"/v1/charges/{charge['id']}/cancel", {})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "not_voidable"
    capture = gateways.cardinal("POST", f"/v1/charges/{charge['id']}/capture", {})
    assert capture.get_json()["error"]["code"] == "not_capturable"
