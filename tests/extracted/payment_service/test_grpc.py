"""The gRPC PaymentService against a real server on a real socket (inside the test process, so it reaches
the test database): the same charges through POST /internal/v1/payments (capture: false) and Authorize give
the same answers, Status reads what GET /internal/v1/payments/<id> reads, and errors carry the REST code."""

from __future__ import annotations

import grpc
import pytest
from django.conf import settings
from django.db import connections

from chassis.grpc_server import HTTP_TO_GRPC, build_server, error_reason
from contracts.rpc.techstore.payment.v1 import payment_pb2, payment_pb2_grpc
from extracted.payment_service.rpc import registrations

pytestmark = pytest.mark.django_db(transaction=True)
CARD = {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder": "Ada"}
SAME = ("status", "amount", "currency", "gateway", "card_brand", "card_last4", "user_id")


@pytest.fixture(scope="module")
def server():
    database = connections.settings["default"]
    previous_age, database["CONN_MAX_AGE"] = database.get("CONN_MAX_AGE", 0), 0
    running = build_server(registrations(), bind="127.0.0.1:0", threads=4, mutual=None)
    yield running
    running.stop(grace=1)
    database["CONN_MAX_AGE"] = previous_age


@pytest.fixture
def stub(server):
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    yield payment_pb2_grpc.PaymentServiceStub(channel)
    channel.close()


@pytest.fixture
def card_id(providers, internal_client):
    registered = internal_client.post("/internal/v1/cards", {**CARD, "gateway": "northpay"}, format="json")
    assert registered.status_code == 201
    return registered.json()["card_id"]


METADATA = (("authorization", f"Bearer {settings.INTERNAL_API_TOKEN}"),)


def charge(card_id: str, number: str, **overrides) -> dict:
    return {
        "idempotency_key": f"{number}:authorize", "order_number": number, "user_id": 7, "amount": "120.00",
        "currency": "EUR", "gateway": "northpay", "card_id": card_id, "shipping_country": "FR", **overrides,
    }  # fmt: skip


def via_rest(client, body: dict) -> tuple:
    answer = client.post("/internal/v1/payments", {**body, "capture": False}, format="json")
    data = answer.json()
    if answer.status_code == 202:
        return ("OK", *(data[name] for name in SAME))
    return (HTTP_TO_GRPC[answer.status_code].name, data["code"])


def via_grpc(stub, body: dict) -> tuple:
    try:
        payment = stub.Authorize(payment_pb2.AuthorizeRequest(**body), metadata=METADATA)
    except grpc.RpcError as error:
        return (error.code().name, error_reason(error)[0])
    return ("OK", *(getattr(payment, name) for name in SAME))


CASES = {
    "a new authorization is pending for the worker": {},
    "a card of another gateway is not found": {"gateway": "cardinal"},
    "a bad currency is invalid": {"currency": "euro"},
    "a zero amount is refused": {"amount": "0.00"},
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_same_charges_through_rest_and_grpc_give_the_same_answers(case, stub, internal_client, card_id):
    rest = via_rest(internal_client, charge(card_id, "TS-R1", **CASES[case]))
    assert via_grpc(stub, charge(card_id, "TS-G1", **CASES[case])) == rest
    if case == "a new authorization is pending for the worker":
        assert rest == ("OK", "pending", "120.00", "EUR", "northpay", "visa", "4242", 7)


def test_a_replayed_key_answers_the_first_payment_and_status_reads_it(stub, internal_client, card_id):
    first = stub.Authorize(payment_pb2.AuthorizeRequest(**charge(card_id, "TS-G2")), metadata=METADATA)
    again = stub.Authorize(payment_pb2.AuthorizeRequest(**charge(card_id, "TS-G2")), metadata=METADATA)
    assert again.id == first.id
    status = stub.Status(payment_pb2.StatusRequest(payment_id=first.id), metadata=METADATA)
    rest = internal_client.get(f"/internal/v1/payments/{first.id}").json()
    assert (status.status, status.order_number, status.amount) == (rest["status"], "TS-G2", rest["amount"])


def test_an_unknown_payment_is_not_found_on_both_paths(stub, internal_client):
    assert internal_client.get("/internal/v1/payments/987654").json()["code"] == "payment_not_found"
    with pytest.raises(grpc.RpcError) as raised:
        stub.Status(payment_pb2.StatusRequest(payment_id=987654), metadata=METADATA)
    assert (raised.value.code(), error_reason(raised.value)[0]) == (
        grpc.StatusCode.NOT_FOUND,
        "payment_not_found",
    )
