"""The saga's commands and replies are critical events (contracts/event_trust.py): signed by the Order
service's relay with its event key, and the orchestrator's consumer, enforcing, refuses a forged reply to
the DLQ before it can move a saga. Real RabbitMQ and PostgreSQL; the Order service's event-keys JWKS served
over real HTTP (pytest-django's live server of the Order service's own urls)."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import transaction
from kombu import Connection, Exchange, Queue

from chassis.consumers import ConsumerWorker
from chassis.event_keys import EventSigner, EventVerifier
from chassis.outbox.models import OutboxEvent
from contracts import event_trust
from contracts import saga as messages
from contracts.event_trust import EVENT_KEYS_PATH
from contracts.events import Envelope
from extracted.order_service.models import Saga
from extracted.order_service.saga import engine
from extracted.order_service.saga.consumers import SagaOrchestratorConsumer

pytestmark = pytest.mark.django_db(transaction=True)

CARD = {"token": "tok_1", "gateway": "cardinal", "brand": "visa", "last4": "4242"}
RESERVED = messages.REPLY_PREFIX + "reserve_stock"


@pytest.fixture
def orchestrator(rabbit, monkeypatch):
    monkeypatch.setattr(SagaOrchestratorConsumer, "name", rabbit.prefix)
    rabbit.queues += [rabbit.prefix, f"{rabbit.prefix}.dlq"] + [f"{rabbit.prefix}.retry.{n}" for n in (1, 2)]
    return SagaOrchestratorConsumer


@pytest.fixture
def verifier(live_server):
    return EventVerifier(
        "enforce", {"order_service": live_server.url + EVENT_KEYS_PATH}, min_refetch_seconds=0.0
    )


def consume(rabbit, consumer_cls, verifier, *bodies: bytes):
    """Publish raw bodies on the test exchange, consume until idle; (stats, dead letters' x-error)."""
    with Connection(rabbit.url) as conn:
        worker = ConsumerWorker(
            consumer_cls(),
            conn,
            exchange=rabbit.exchange,
            max_attempts=3,
            retry_base_ms=50,
            verifier=verifier,
        )
        worker.declare()
        producer = conn.Producer()
        for body in bodies:
            producer.publish(
                body,
                exchange=Exchange(rabbit.exchange, type="topic", durable=True),
                routing_key=orjson.loads(body)["type"],
                content_type="application/json",
            )
        stats = worker.run(once=True, idle_timeout=1.0)
        dead = []
        while (
            message := Queue(f"{consumer_cls.name}.dlq", channel=conn.channel()).get(no_ack=True)
        ) is not None:
            dead.append(message.headers["x-error"])
    return stats, dead


def started_saga(order_factory) -> tuple[Saga, dict]:
    with transaction.atomic():
        saga = engine.saga_start(order=order_factory(), context={"client_ip": "127.0.0.1", "card": CARD})
    command = OutboxEvent.objects.get(type=messages.COMMAND_PREFIX + "reserve_stock").data
    return saga, command


def test_saga_commands_and_replies_are_critical_and_only_the_order_service_may_send_them():
    for action in ("reserve_stock", "authorize_payment", "capture_payment", "refund_payment"):
        for prefix in (messages.COMMAND_PREFIX, messages.REPLY_PREFIX):
            assert event_trust.publishers_of(prefix + action) == ("order_service",)
    command = Envelope.new(messages.COMMAND_PREFIX + "reserve_stock", {"x": 1}, source="order_service")
    assert EventSigner()(command).signature is not None  # what the relay does to every outbox row


def test_a_forged_saga_reply_is_dead_lettered_and_never_advances_the_saga(
    rabbit, orchestrator, verifier, order_factory
):
    saga, command = started_saga(order_factory)
    reply = Envelope.new(RESERVED, messages.reply(command, outcome="reserved"), source="order_service")
    real_kid = EventSigner().material().kid
    attacker = ec.generate_private_key(ec.SECP256R1())
    forged_key = event_trust.sign(reply, kid=real_kid, key=attacker)  # the real kid, another key
    unsigned = reply  # as a process with broker credentials but no key would send it
    elsewhere = Envelope.new(RESERVED, reply.data, source="payment_service")  # a participant's source
    stats, dead = consume(
        rabbit, orchestrator, verifier, forged_key.to_json(), unsigned.to_json(), elsewhere.to_json()
    )
    assert (stats.dead_lettered, stats.processed) == (3, 0)
    assert sorted(error.split(":")[1].strip() for error in dead) == [
        "bad_signature",
        "unsigned",
        "wrong_publisher",
    ]
    saga.refresh_from_db()
    assert (saga.step, saga.state) == ("reserve_stock", Saga.State.RUNNING)
    assert not OutboxEvent.objects.filter(type=messages.COMMAND_PREFIX + "authorize_payment").exists()

    stats, dead = consume(rabbit, orchestrator, verifier, EventSigner()(reply).to_json())
    assert (stats.processed, dead) == (1, [])
    saga.refresh_from_db()
    assert saga.step == "authorize_payment"  # the genuine reply, signed by the relay's key, moves it on
