"""The payment port's `payment_service` adapter against a REAL Payment service (gunicorn, its Celery worker,
its own PostgreSQL database) and the sandbox: every command of the port's contract, its idempotency, and
the per-user choice of adapter by the flag route.payments.charge."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import grpc
import pytest
import requests

from extracted.order_service.participants import payment_service as adapter_module
from extracted.order_service.participants.payment_grpc import GrpcPaymentServicePayments
from extracted.order_service.participants.payment_service import PaymentServicePayments
from extracted.order_service.participants.payments import (
    AuthorizePayment,
    CapturePayment,
    CardDetails,
    RefundPayment,
    TokenizeCard,
    VoidPayment,
    choose_payment_adapter,
)
from flags import Flags, FlagsConfig
from legacy_monolith.demo.payments import running_payment_service
from legacy_monolith.demo.processes import free_port, python_argv, sandbox_process, stop_process_group
from tests.flags.builders import feature, rollout_strategy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def payment_service(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("payment-adapter")
    port = free_port()
    with sandbox_process(port=port, log_path=var_dir / "sandbox.log") as sandbox:
        sandbox_url = f"http://127.0.0.1:{port}"
        with running_payment_service(
            var_dir=var_dir, sandbox_url=sandbox_url, workers=1, threads=4
        ) as service:
            service.sandbox_url = sandbox_url
            yield service
        assert sandbox


@pytest.fixture
def adapter(payment_service, settings):
    settings.PAYMENT_SERVICE_URL = payment_service.url
    return PaymentServicePayments()


def card(number: str = "4242424242424242") -> CardDetails:
    return CardDetails(number=number, exp_month=12, exp_year=2030, cvc="123", holder="Ada")


def authorize(adapter, token, number: str, amount: str = "42.00") -> tuple:
    command = AuthorizePayment(
        saga_id=str(uuid.uuid4()),
        idempotency_key=f"{number}:authorize",
        order={
            "number": number,
            "user_id": 17,
            "shipping": {"name": "Ada", "country": "FR", "city": "Paris"},
        },
        amount=Decimal(amount),
        currency="EUR",
        card=token,
        client_ip="127.0.0.1",
        deadline=datetime.now(UTC) + timedelta(seconds=60),
    )
    return command, adapter.authorize(command)


def ledger(service, gateway: str = "cardinal") -> list[dict]:
    return requests.get(f"{service.sandbox_url}/_sandbox/gateways/{gateway}/charges", timeout=5).json()[
        "charges"
    ]


def test_authorize_capture_refund_through_the_service(adapter, payment_service):
    token = adapter.tokenize(TokenizeCard(card=card(), gateway="cardinal", user_id=17))
    assert token.token.startswith("card_")
    assert token.last4 == "4242"
    assert not token.error_code
    number = f"TS-{uuid.uuid4().hex[:8].upper()}"
    command, outcome = authorize(adapter, token, number)
    assert outcome.outcome == "authorized"
    assert outcome.status == "authorized"
    assert outcome.card_last4 == "4242"
    again = adapter.authorize(command)  # the same key: the same payment, nothing charged twice
    assert again.payment_id == outcome.payment_id
    captured = adapter.capture(
        CapturePayment(
            command.saga_id,
            f"{number}:capture",
            number,
            outcome.payment_id,
            Decimal("42.00"),
            "EUR",
            command.deadline,
        )
    )
    assert captured.outcome == "captured"
    refunded = adapter.refund(
        RefundPayment(
            command.saga_id,
            f"{number}:refund",
            number,
            outcome.payment_id,
            Decimal("42.00"),
            "EUR",
            "cancelled",
        )
    )
    assert refunded.outcome == "refunded"
    assert refunded.status == "refunded"
    mine = [c for c in ledger(payment_service) if c["metadata"].get("reference") == number]
    assert len(mine) == 1
    assert mine[0]["amount_refunded"] == 4200


def test_a_declined_card_and_a_refused_card_are_refusals(adapter):
    declined = adapter.tokenize(TokenizeCard(card=card("4000000000000002"), gateway="cardinal", user_id=17))
    _, outcome = authorize(adapter, declined, f"TS-{uuid.uuid4().hex[:8].upper()}")
    assert outcome.outcome == "declined"
    assert outcome.code == "card_declined"
    refused = adapter.tokenize(TokenizeCard(card=card("4242424242424241"), gateway="cardinal", user_id=17))
    assert refused.token == ""
    assert refused.error_code == "invalid_number"
    _, outcome = authorize(adapter, refused, f"TS-{uuid.uuid4().hex[:8].upper()}")
    assert outcome.outcome == "declined"
    assert outcome.code == "invalid_number"


def test_void_releases_an_authorization_even_when_authorize_never_answered(adapter, payment_service):
    token = adapter.tokenize(TokenizeCard(card=card(), gateway="northpay", user_id=17))
    number = f"TS-{uuid.uuid4().hex[:8].upper()}"
    command, outcome = authorize(adapter, token, number)
    assert outcome.outcome == "authorized"
    voided = adapter.void(
        VoidPayment(command.saga_id, f"{number}:void", number, "", f"{number}:authorize", "stock")
    )
    assert voided.outcome == "voided"
    assert voided.status == "voided"
    assert [c["state"] for c in ledger(payment_service, "northpay") if c["merchantReference"] == number] == [
        "CANCELLED"
    ]
    nothing = adapter.void(
        VoidPayment(command.saga_id, "TS-NONE:void", "TS-NONE", "", "TS-NONE:authorize", "x")
    )
    assert nothing.outcome == "voided"  # never authorized: compensation can always finish
    refund_of_voided = adapter.refund(
        RefundPayment(
            command.saga_id, f"{number}:refund", number, outcome.payment_id, Decimal("42.00"), "EUR", "x"
        )
    )
    assert refund_of_voided.outcome == "voided"


def test_the_flag_chooses_the_adapter_per_user_and_sticks(tmp_path):
    flags_file = tmp_path / "flags.json"
    flags_file.write_text(
        json.dumps(
            {
                "version": 1,
                "features": [
                    feature(
                        "route.payments.charge",
                        strategies=[rollout_strategy(50, "userId", "route.payments.charge")],
                    )
                ],
            }
        )
    )
    facade = Flags(FlagsConfig(flags_file=flags_file))
    previous = adapter_module.use_flags(facade)
    try:
        choices = {user: choose_payment_adapter(user_id=user) for user in range(1, 201)}
        assert set(choices.values()) == {"payment_service", "monolith"}
        assert 60 <= sum(c == "payment_service" for c in choices.values()) <= 140
        assert all(choose_payment_adapter(user_id=user) == choice for user, choice in choices.items())
    finally:
        adapter_module.use_flags(previous)
        facade.close()


@pytest.fixture(scope="module")
def payment_grpc(payment_service, tmp_path_factory):
    """The same Payment service's `grpc` server (its database, worker and sandbox), on a free port."""
    port = free_port()
    log = tmp_path_factory.mktemp("payment-grpc") / "grpc.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            python_argv("-m", "extracted.payment_service", "grpc", "--bind", f"127.0.0.1:{port}"),
            env={**os.environ, **payment_service.env}, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=60)
    except grpc.FutureTimeoutError:
        stop_process_group(process, 5)
        pytest.fail(f"the Payment service's grpc server did not start: {log.read_text()[-2000:]}")
    channel.close()
    yield f"127.0.0.1:{port}"
    stop_process_group(process, 10)


def test_authorize_over_grpc_settles_like_rest_and_the_rest_of_the_commands_follow(adapter, payment_grpc):
    over_grpc = GrpcPaymentServicePayments(payment_grpc)
    token = over_grpc.tokenize(TokenizeCard(card=card(), gateway="cardinal", user_id=17))  # REST
    number = f"TS-{uuid.uuid4().hex[:8].upper()}"
    command, outcome = authorize(over_grpc, token, number)
    assert (outcome.outcome, outcome.status, outcome.card_last4) == ("authorized", "authorized", "4242")
    assert over_grpc.authorize(command).payment_id == outcome.payment_id  # the same key, the same payment
    assert adapter.authorize(command).payment_id == outcome.payment_id  # and the same over REST
    declined = over_grpc.tokenize(TokenizeCard(card=card("4000000000000002"), gateway="cardinal", user_id=17))
    _, refused = authorize(over_grpc, declined, f"TS-{uuid.uuid4().hex[:8].upper()}")
    # declined by the card, or by antifraud once this card's earlier declines in the module count against it
    assert (refused.outcome, refused.code) in {
        ("declined", "card_declined"),
        ("rejected_fraud", "fraud_suspected"),
    }
    captured = over_grpc.capture(
        CapturePayment(
            command.saga_id, f"{number}:capture", number, outcome.payment_id, Decimal("42.00"), "EUR",
            command.deadline,
        )
    )  # fmt: skip
    assert captured.outcome == "captured"
