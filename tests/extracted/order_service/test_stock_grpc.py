"""The stock participant over gRPC (ORDER_STOCK_TRANSPORT=grpc) against a real gRPC server on a real socket
standing in for the Product service at the boundary: a StockService whose answers each test scripts, served
through the chassis' own method wrapper (token, protovalidate, error mapping). What the Product service itself
answers is tested in tests/extracted/product_service/test_grpc.py."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings as django_settings

from chassis import grpc_client
from chassis.certs import certs_make
from chassis.grpc_server import Registration, build_server, internal_method
from contracts.errors import ApplicationError
from contracts.rpc.techstore.stock.v1 import stock_pb2, stock_pb2_grpc
from extracted.order_service.participants.payments import ParticipantUnavailable
from extracted.order_service.participants.stock import HttpStock, stock_port
from extracted.order_service.participants.stock_grpc import SERVICE, GrpcStock
from kernel.mtls import MutualTls

LINES = [{"product_id": 7, "quantity": 2}]


class Unavailable(ApplicationError):
    status_code = 503


class ScriptedStock(stock_pb2_grpc.StockServiceServicer):
    """Answers from `script` in order (an ApplicationError is raised, None is success); records each call's
    deadline and metadata."""

    def __init__(self):
        self.script, self.calls, self.lock = [], [], threading.Lock()

    def _next(self, context):
        with self.lock:
            self.calls.append(
                {"time_remaining": context.time_remaining(), **dict(context.invocation_metadata())}
            )
            answer = self.script.pop(0) if self.script else None
        if answer is not None:
            raise answer

    @internal_method(callers=("order_service",))
    def Reserve(self, request, context):
        self._next(context)
        return stock_pb2.ReserveResponse(outcome=stock_pb2.OUTCOME_NEW)

    @internal_method(callers=("order_service",))
    def Release(self, request, context):
        self._next(context)
        return stock_pb2.ReleaseResponse(outcome=stock_pb2.OUTCOME_NEW)


@pytest.fixture(scope="module")
def product_stock():
    servicer = ScriptedStock()
    add = stock_pb2_grpc.add_StockServiceServicer_to_server
    running = build_server([Registration(SERVICE, add, servicer)], bind="127.0.0.1:0", threads=4, mutual=None)
    yield servicer, f"127.0.0.1:{running.port}"
    running.stop(grace=0)


@pytest.fixture
def stock(product_stock):
    servicer, target = product_stock
    servicer.script.clear()
    servicer.calls.clear()
    return servicer, GrpcStock(target)


def _soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_a_reservation_is_reserved_and_carries_the_token(stock):
    servicer, client = stock
    assert client.reserve(reference="order-A1", lines=LINES, deadline=_soon(5)).outcome == "reserved"
    assert servicer.calls[0]["authorization"] == f"Bearer {django_settings.INTERNAL_API_TOKEN}"


def test_the_call_deadline_is_what_is_left_of_the_saga_steps(stock):
    servicer, client = stock
    client.reserve(reference="order-A2", lines=LINES, deadline=_soon(3))
    # 3 s, not ORDER_PARTICIPANT_READ_TIMEOUT (10 s); gRPC rounds the timeout it sends up a little
    assert 0 < servicer.calls[0]["time_remaining"] < 3.5


def test_a_step_whose_deadline_has_passed_is_not_called(stock):
    servicer, client = stock
    with pytest.raises(ParticipantUnavailable, match="deadline has passed"):
        client.reserve(reference="order-A3", lines=LINES, deadline=_soon(-1))
    assert servicer.calls == []


def test_unavailable_is_retried_by_the_channels_retry_policy(stock):
    servicer, client = stock
    servicer.script[:] = [
        Unavailable("database_unavailable", "down"),
        Unavailable("database_unavailable", "down"),
    ]
    assert client.reserve(reference="order-A4", lines=LINES, deadline=_soon(10)).outcome == "reserved"
    assert len(servicer.calls) == 3


def test_unavailable_past_the_attempts_is_participant_unavailable(stock):
    servicer, client = stock
    servicer.script[:] = [Unavailable("database_unavailable", "down")] * grpc_client.MAX_ATTEMPTS
    with pytest.raises(ParticipantUnavailable, match="UNAVAILABLE"):
        client.reserve(reference="order-A5", lines=LINES, deadline=_soon(10))
    assert len(servicer.calls) == grpc_client.MAX_ATTEMPTS


def test_out_of_stock_is_a_refusal_with_the_rest_code_and_extra_and_is_not_retried(stock):
    servicer, client = stock
    short = {"lines": [{"product_id": 7, "requested": 2, "available": 1}]}
    servicer.script[:] = [
        ApplicationError("out_of_stock", "Not enough stock for product 7", extra=short, status=409)
    ]
    outcome = client.reserve(reference="order-A6", lines=LINES, deadline=_soon(5))
    assert (outcome.outcome, outcome.code, outcome.extra) == ("refused", "out_of_stock", short)
    assert len(servicer.calls) == 1


def test_an_invalid_request_is_refused_before_the_product_service_runs_it(stock):
    servicer, client = stock
    outcome = client.reserve(reference="order A7", lines=LINES, deadline=_soon(5))
    assert (outcome.outcome, outcome.code) == ("refused", "validation_error")
    assert servicer.calls == []


def test_releasing_an_unknown_reservation_counts_as_released(stock):
    servicer, client = stock
    servicer.script[:] = [ApplicationError("reservation_not_found", "none", status=404)]
    assert client.release(reference="order-A8", deadline=_soon(5)).outcome == "released"


def test_refused_credentials_are_participant_unavailable(stock):
    servicer, client = stock
    servicer.script[:] = [ApplicationError("caller_not_allowed", "The service 'x' may not", status=403)]
    with pytest.raises(ParticipantUnavailable, match="PERMISSION_DENIED"):
        client.release(reference="order-A9", deadline=_soon(5))


def test_the_transport_setting_picks_grpc_for_the_product_service_only(settings, product_stock):
    settings.ORDER_STOCK_TRANSPORT, settings.PRODUCT_GRPC_TARGET = "grpc", product_stock[1]
    assert isinstance(stock_port("service"), GrpcStock)
    assert isinstance(stock_port("monolith"), HttpStock)
    settings.ORDER_STOCK_TRANSPORT = "rest"
    assert isinstance(stock_port("service"), HttpStock)


def test_a_server_that_is_not_there_is_participant_unavailable(settings):
    client = GrpcStock("127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(ParticipantUnavailable, match="UNAVAILABLE"):
        client.reserve(reference="order-B1", lines=LINES, deadline=_soon(2))


@pytest.fixture(scope="module")
def tls_product_stock(tmp_path_factory):
    """The scripted StockService over mutual TLS, with the Product service's certificate."""
    certs = tmp_path_factory.mktemp("stock-grpc-mtls")
    certs_make(folder=certs, services=("product_service", "order_service", "payment_service"))
    server_tls = _mutual(certs, "product_service")
    add = stock_pb2_grpc.add_StockServiceServicer_to_server
    registration = Registration(SERVICE, add, ScriptedStock())
    running = build_server([registration], bind="127.0.0.1:0", threads=2, mutual=server_tls)
    yield certs, f"localhost:{running.port}"
    running.stop(grace=0)


def _mutual(certs, name: str) -> MutualTls:
    return MutualTls(str(certs / f"{name}.crt"), str(certs / f"{name}.key"), str(certs / "ca.crt"))


def test_over_mutual_tls_the_order_services_certificate_reserves(tls_product_stock, settings):
    certs, target = tls_product_stock
    settings.INTERNAL_TLS = _mutual(certs, "order_service")
    assert (
        GrpcStock(target).reserve(reference="order-T1", lines=LINES, deadline=_soon(5)).outcome == "reserved"
    )


def test_over_mutual_tls_another_services_certificate_is_refused(tls_product_stock, settings):
    certs, target = tls_product_stock
    settings.INTERNAL_TLS = _mutual(certs, "payment_service")
    with pytest.raises(ParticipantUnavailable, match="PERMISSION_DENIED"):
        GrpcStock(target).reserve(reference="order-T2", lines=LINES, deadline=_soon(5))
