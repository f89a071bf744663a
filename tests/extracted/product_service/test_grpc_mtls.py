"""Mutual TLS on the gRPC StockService, with real TLS: certificates from chassis.certs (and from a second,
foreign CA), the server configured as INTERNAL_TLS_* configures it. The allowed identity passes, another
service's valid certificate is refused (PERMISSION_DENIED caller_not_allowed, as REST's 403), a certificate
of another CA and a client without one fail the handshake, and a call over TLS 1.2 is refused."""

from __future__ import annotations

import json
import socket
import ssl
import struct
import urllib.parse

import grpc
import h2.connection
import h2.events
import pytest
from django.test import override_settings

from chassis.certs import certs_make
from chassis.grpc_server import error_reason
from contracts.rpc.techstore.stock.v1 import stock_pb2, stock_pb2_grpc
from kernel.mtls import MutualTls

from .grpc_fixtures import stock_server, token_metadata

pytestmark = pytest.mark.django_db
QUERY = stock_pb2.QueryRequest(product_ids=[424242])


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grpc-mtls")
    certs, foreign = tmp / "certs", tmp / "foreign"
    certs_make(folder=certs, services=("product_service", "order_service", "payment_service"))
    certs_make(folder=foreign, services=("order_service",))  # the same name, another CA
    mutual = MutualTls(
        str(certs / "product_service.crt"), str(certs / "product_service.key"), str(certs / "ca.crt")
    )
    with override_settings(INTERNAL_TLS=mutual), stock_server(mutual=mutual) as running:
        yield running.port, certs, foreign


def _stub(port, ca_folder, folder, name):
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(ca_folder / "ca.crt").read_bytes(),
        private_key=(folder / f"{name}.key").read_bytes() if name else None,
        certificate_chain=(folder / f"{name}.crt").read_bytes() if name else None,
    )
    channel = grpc.secure_channel(f"localhost:{port}", credentials)
    return channel, stock_pb2_grpc.StockServiceStub(channel)


def _refusal(stub, metadata):
    with pytest.raises(grpc.RpcError) as raised:
        stub.Query(QUERY, metadata=metadata, timeout=10)
    return raised.value


def test_the_allowed_identity_with_the_token_passes(tls_server):
    port, certs, _ = tls_server
    channel, stub = _stub(port, certs, certs, "order_service")
    answer = stub.Query(QUERY, metadata=token_metadata(), timeout=10)
    assert [(level.product_id, level.found) for level in answer.levels] == [(424242, False)]
    channel.close()


def test_a_valid_certificate_of_another_service_is_refused_even_with_the_token(tls_server):
    port, certs, _ = tls_server
    channel, stub = _stub(port, certs, certs, "payment_service")
    error = _refusal(stub, token_metadata())
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    reason, metadata = error_reason(error)
    assert reason == "caller_not_allowed"
    assert (metadata["caller"], json.loads(metadata["allowed"])) == (
        "payment_service",
        ["monolith", "order_service"],
    )
    channel.close()


def test_the_allowed_identity_still_needs_the_bearer_token(tls_server):
    port, certs, _ = tls_server
    channel, stub = _stub(port, certs, certs, "order_service")
    assert _refusal(stub, ()).code() == grpc.StatusCode.UNAUTHENTICATED
    channel.close()


@pytest.mark.parametrize("client", ["foreign CA", "no certificate"])
def test_a_certificate_from_another_ca_or_none_fails_the_handshake(tls_server, client):
    port, certs, foreign = tls_server
    folder, name = (foreign, "order_service") if client == "foreign CA" else (certs, None)
    channel, stub = _stub(port, certs, folder, name)
    error = _refusal(stub, token_metadata())
    assert error.code() == grpc.StatusCode.UNAVAILABLE  # no connection: the server refused the handshake
    channel.close()


def _call_over_tls12(port: int, certs, name: str) -> dict[str, str]:
    """One Query over a hand-made HTTP/2 connection whose TLS stops at 1.2 (no gRPC client can be told
    to): the trailers the server answered with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(certs / "ca.crt")
    context.load_cert_chain(certs / f"{name}.crt", certs / f"{name}.key")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    message = QUERY.SerializeToString()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        assert tls.version() == "TLSv1.2"
        connection = h2.connection.H2Connection()
        connection.initiate_connection()
        headers = [
            (":method", "POST"), (":scheme", "https"), (":authority", f"localhost:{port}"),
            (":path", "/techstore.stock.v1.StockService/Query"), ("content-type", "application/grpc"),
            ("te", "trailers"), *token_metadata(),
        ]  # fmt: skip
        connection.send_headers(1, headers)
        connection.send_data(1, b"\x00" + struct.pack(">I", len(message)) + message, end_stream=True)
        tls.sendall(connection.data_to_send())
        answered: dict[str, str] = {}
        while "grpc-status" not in answered:
            data = tls.recv(65536)
            assert data, "the server closed the connection without an answer"
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
                    answered.update((k.decode(), v.decode()) for k, v in event.headers)
            tls.sendall(connection.data_to_send())
        return answered


def test_a_call_over_tls_1_2_is_refused_before_the_method_runs(tls_server):
    port, certs, _ = tls_server
    trailers = _call_over_tls12(port, certs, "order_service")
    assert trailers["grpc-status"] == str(grpc.StatusCode.PERMISSION_DENIED.value[0])
    assert "TLS 1.3" in urllib.parse.unquote(trailers["grpc-message"])
