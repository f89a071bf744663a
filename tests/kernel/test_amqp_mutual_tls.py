"""RabbitMQ over mutual TLS (issue 20): with an `amqps://` BROKER_URL and the process's internal certificate
(INTERNAL_TLS_CERT/KEY/CA), every broker connection the code opens (kernel.mtls.amqp_ssl: the chassis'
publisher and consumers, Celery, the monolith's relay and sync receivers, shadow's queue) speaks TLS 1.3
and presents that certificate. A real RabbitMQ node of this test's own listens for AMQPS only and requires a
client certificate from the internal CA: an allowed certificate publishes and consumes; no certificate, a
certificate from another CA and TLS 1.2 are refused in the handshake."""

from __future__ import annotations

import ssl
import uuid

import pytest
from kombu import Connection, Exchange, Queue

from chassis.broker import Publisher
from contracts.events import Envelope
from kernel.mtls import MutualTls, amqp_ssl
from kernel.pki import Authority
from tests.rabbitmq_node import NodeTls, private_rabbitmq


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("amqp-pki")
    authority, stranger = Authority.create(), Authority.create("another CA")
    files = {"ca.pem": authority.certificate_pem()}
    for name, ca in (("order_service", authority), ("rogue", stranger)):
        cert, key = ca.issue(name)
        files[f"{name}.pem"], files[f"{name}.key"] = cert, key
    for name, content in files.items():
        (folder / name).write_bytes(content)
    server_cert, server_key = authority.issue("rabbitmq")
    return folder, NodeTls(ca=authority.certificate_pem(), cert=server_cert, key=server_key)


@pytest.fixture(scope="module")
def broker(pki):
    _, node_tls = pki
    with private_rabbitmq("amqps", tls=node_tls) as node:
        yield node


def identity(folder, name: str) -> MutualTls:
    return MutualTls(
        cert=str(folder / f"{name}.pem"), key=str(folder / f"{name}.key"), ca=str(folder / "ca.pem")
    )


def connects(url: str, options: dict | None) -> bool:
    connection = Connection(url, connect_timeout=10, ssl=options)
    try:
        connection.connect()
        return True
    except (OSError, ssl.SSLError, ConnectionError):
        return False
    finally:
        connection.release()


def test_an_internal_certificate_publishes_and_consumes_over_tls_1_3(broker, pki, monkeypatch):
    folder, _ = pki
    monkeypatch.setenv("INTERNAL_TLS_CERT", str(folder / "order_service.pem"))
    monkeypatch.setenv("INTERNAL_TLS_KEY", str(folder / "order_service.key"))
    monkeypatch.setenv("INTERNAL_TLS_CA", str(folder / "ca.pem"))
    exchange = f"test.amqps.{uuid.uuid4().hex[:8]}"
    queue = Queue(f"{exchange}.q", Exchange(exchange, type="topic", durable=True), routing_key="#")
    options = amqp_ssl(broker.url)  # from the environment, as every broker user of the code reads it
    assert options["certfile"] == str(folder / "order_service.pem")
    with Connection(broker.url, ssl=options) as connection:
        queue(connection.default_channel).declare()
        assert connection.transport.client.connection.transport.sock.version() == "TLSv1.3"
    publisher = Publisher(broker.url, exchange=exchange)  # the chassis' publisher, confirms on
    envelope = Envelope.new("order.confirmed", {"order": 1}, source="order_service")
    publisher.publish(envelope)
    publisher.close()
    with Connection(broker.url, ssl=amqp_ssl(broker.url)) as connection:
        message = queue(connection.default_channel).get(no_ack=True)
    assert message is not None
    assert Envelope.from_json(message.body).id == envelope.id


def test_no_certificate_another_ca_or_tls_1_2_is_refused(broker, pki):
    folder, _ = pki
    allowed = amqp_ssl(broker.url, identity(folder, "order_service"))
    assert connects(broker.url, allowed)
    no_certificate = {k: v for k, v in allowed.items() if k not in ("certfile", "keyfile")}
    assert not connects(broker.url, no_certificate)
    assert not connects(
        broker.url, amqp_ssl(broker.url, identity(folder, "rogue")) | {"ca_certs": allowed["ca_certs"]}
    )
    tls12 = allowed | {
        "tls_minimum_version": ssl.TLSVersion.TLSv1_2,
        "tls_maximum_version": ssl.TLSVersion.TLSv1_2,
    }
    assert not connects(broker.url, tls12)
    assert amqp_ssl("amqp://guest:guest@127.0.0.1:5672//") is None  # plain inside only where configured so
