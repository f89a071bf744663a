"""GET /api/v1/payments, GET /api/v1/payments/<id>, POST /api/v1/payments/<id>/refunds."""

import pytest

from legacy_monolith.payments.models import Payment, Refund
from tests.factories import OrderFactory

from .conftest import APPROVED
from .factories import PaymentFactory

pytestmark = pytest.mark.django_db
PAYMENT_FIELDS = {
    "id",
    "order_number",
    "gateway",
    "gateway_ref",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "card_brand",
    "card_last4",
    "fraud_score",
    "fraud_reasons",
    "failure_code",
    "failure_message",
    "created_at",
    "refunds",
}


def test_a_customer_lists_only_their_own_payments(client_for, customer):
    mine = PaymentFactory(order=OrderFactory(user=customer))
    PaymentFactory()
    body = client_for(customer).get("/api/v1/payments").json()
    assert body["count"] == 1
    [row] = body["results"]
    assert set(row) == PAYMENT_FIELDS
    assert (row["id"], row["order_number"], row["amount"]) == (mine.pk, mine.order.number, str(mine.amount))
    assert (row["card_last4"], row["card_brand"], row["status"], row["refunds"]) == (
        "4242",
        "visa",
        "captured",
        [],
    )


def test_staff_list_every_payment_and_filter_by_order(client_for, staff_user):
    first, second = PaymentFactory(), PaymentFactory()
    everything = client_for(staff_user).get("/api/v1/payments").json()
    assert {r["id"] for r in everything["results"]} == {first.pk, second.pk}
    filtered = client_for(staff_user).get("/api/v1/payments", {"order": second.order.number}).json()
    assert [r["id"] for r in filtered["results"]] == [second.pk]


def test_a_customer_filtering_on_someone_elses_order_sees_nothing(client_for, customer):
    other = PaymentFactory()
    body = client_for(customer).get("/api/v1/payments", {"order": other.order.number}).json()
    assert body["count"] == 0


def test_listing_is_paginated(client_for, staff_user):
    PaymentFactory.create_batch(3)
    body = client_for(staff_user).get("/api/v1/payments", {"page_size": 2}).json()
    assert (body["count"], len(body["results"]), body["next"] is not None) == (3, 2, True)


def test_a_customer_reads_their_payment_and_gets_404_for_anyone_elses(client_for, customer):
    mine, theirs = PaymentFactory(order=OrderFactory(user=customer)), PaymentFactory()
    assert client_for(customer).get(f"/api/v1/payments/{mine.pk}").json()["id"] == mine.pk
    response = client_for(customer).get(f"/api/v1/payments/{theirs.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")


@pytest.mark.parametrize("path", ["/api/v1/payments", "/api/v1/payments/1"])
def test_payments_need_a_login(api_client, path):
    response = api_client.get(path)
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_staff_refund_a_payment_and_a_replay_returns_the_same_refund(sandbox, charge, client_for, staff_user):
    payment = charge(APPROVED)
    client = client_for(staff_user)
    url = f"/api/v1/payments/{payment.pk}/refunds"
    first = client.post(
        url, {"amount": "5.00", "reason": "scratched"}, format="json", HTTP_IDEMPOTENCY_KEY="refund-0001"
    )
    assert first.status_code == 201
    assert set(first.json()) == {"id", "amount", "status", "reason", "created_at"}
    assert first.json()["amount"] == "5.00"
    assert first.json()["status"] == "succeeded"
    again = client.post(
        url, {"amount": "5.00", "reason": "scratched"}, format="json", HTTP_IDEMPOTENCY_KEY="refund-0001"
    )
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    shown = client.get(f"/api/v1/payments/{payment.pk}").json()
    assert (shown["status"], shown["amount_refunded"], len(shown["refunds"])) == (
        "partially_refunded",
        "5.00",
        1,
    )


def test_a_refund_without_an_amount_refunds_what_remains(sandbox, charge, client_for, staff_user):
    payment = charge(APPROVED)
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, format="json", HTTP_IDEMPOTENCY_KEY="refund-everything"
    )
    assert (response.status_code, response.json()["amount"]) == (201, str(payment.amount))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.REFUNDED


def test_a_refund_above_the_remaining_amount_is_a_400(sandbox, charge, client_for, staff_user):
    payment = charge(APPROVED)
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds",
        {"amount": "20.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="too-much-1",
    )
    assert (response.status_code, response.json()["code"]) == (400, "refund_exceeds_payment")
    assert response.json()["extra"]["remaining"] == "19.99"


def test_a_refund_when_the_gateway_is_down_is_a_503(sandbox, charge, client_for, staff_user):
    payment = charge(APPROVED)
    sandbox.set_knobs("cardinal", error_rate=1.0)
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, format="json", HTTP_IDEMPOTENCY_KEY="gateway-down"
    )
    assert (response.status_code, response.json()["code"]) == (503, "payment_gateway_unavailable")
    assert not Refund.objects.exists()


def test_a_failed_payment_is_not_refundable_409(client_for, staff_user):
    payment = PaymentFactory(status=Payment.Status.FAILED)
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, format="json", HTTP_IDEMPOTENCY_KEY="not-refundable"
    )
    assert (response.status_code, response.json()["code"]) == (409, "payment_not_refundable")


def test_customers_cannot_refund(client_for, customer):
    payment = PaymentFactory(order=OrderFactory(user=customer))
    response = client_for(customer).post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, format="json", HTTP_IDEMPOTENCY_KEY="customer-refund"
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_refunding_an_unknown_payment_is_a_404(client_for, staff_user):
    response = client_for(staff_user).post(
        "/api/v1/payments/999999/refunds", {}, format="json", HTTP_IDEMPOTENCY_KEY="unknown-payment"
    )
    assert (response.status_code, response.json()["code"]) == (404, "payment_not_found")


@pytest.mark.parametrize(
    ("key", "code"),
    [
        (None, "idempotency_key_required"),
        ("short", "idempotency_key_invalid"),
        ("bad key!", "idempotency_key_invalid"),
    ],
)
def test_a_refund_needs_a_sane_idempotency_key(client_for, staff_user, key, code):
    payment = PaymentFactory()
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds", {}, format="json", **headers
    )
    assert (response.status_code, response.json()["code"]) == (400, code)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "abc"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "99999999999.00"}, "amount"),
        ({"amount": [1]}, "amount"),
        ({"reason": "x" * 201}, "reason"),
        ({"reason": {"a": 1}}, "reason"),
    ],
)
def test_bad_refund_input_is_a_validation_error(client_for, staff_user, body, field):
    payment = PaymentFactory()
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds", body, format="json", HTTP_IDEMPOTENCY_KEY="bad-input-1"
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert field in response.json()["extra"]["fields"]


def test_malformed_json_refund_body_is_a_400(client_for, staff_user):
    payment = PaymentFactory()
    response = client_for(staff_user).post(
        f"/api/v1/payments/{payment.pk}/refunds",
        data="{nope",
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="malformed-1",
    )
    assert (response.status_code, response.json()["code"]) == (400, "malformed_request")
