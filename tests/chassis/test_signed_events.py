"""Signed, checksummed critical events (issue 20) against real RabbitMQ and PostgreSQL, the publisher's
event-keys JWKS served over real HTTP (pytest-django's live server of the chassis test service).

The chassis test service plays the Payment service here (EVENT_SOURCE=payment_service, so it may publish
`payment.*` by contracts/event_trust.py); its consumer handles `payment.captured` with the widget handler,
whose effect (an outbox row) the tests count.
"""

import json
import logging

import orjson
import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from kombu import Connection, Exchange, Queue
from prometheus_client import REGISTRY

from chassis import event_keys
from chassis.consumers import ConsumerWorker
from chassis.event_keys import EventSigner, EventVerifier, event_keyring
from chassis.models import EventSigningKey, ProcessedEvent
from chassis.outbox.models import OutboxEvent
from chassis.outbox.writer import outbox_write
from contracts import event_trust
from contracts.event_trust import EVENT_KEYS_PATH
from contracts.events import CONTENT_FIELDS, Envelope, canonical_json, content_digest
from kernel import crypto
from tests.chassis.chassis_service import consumers as test_consumers

pytestmark = pytest.mark.django_db(transaction=True)
PAID = "payment.captured"


@pytest.fixture
def payments(rabbit, monkeypatch, settings):
    """The test consumer under a unique name, handling payment.captured; this process is payment_service."""
    settings.EVENT_SOURCE = "payment_service"
    monkeypatch.setattr(test_consumers.WidgetConsumer, "name", rabbit.prefix)
    monkeypatch.setattr(test_consumers.WidgetConsumer, "bindings", ("widget.#", "payment.#"))
    monkeypatch.setattr(
        test_consumers.WidgetConsumer,
        "handlers",
        {"widget.created": test_consumers.record_widget, PAID: test_consumers.record_widget},
    )
    monkeypatch.setattr(test_consumers, "FAILURES_LEFT", {})
    rabbit.queues += [rabbit.prefix, f"{rabbit.prefix}.dlq"] + [f"{rabbit.prefix}.retry.{n}" for n in (1, 2)]
    return test_consumers.WidgetConsumer


@pytest.fixture
def verifier(live_server):
    """An enforcing verifier fetching payment_service's and chassis_service's keys from the live server."""
    url = live_server.url + EVENT_KEYS_PATH
    return EventVerifier("enforce", {"payment_service": url, "chassis_service": url}, min_refetch_seconds=0.0)


def worker_for(rabbit, consumer_cls, verifier, conn) -> ConsumerWorker:
    return ConsumerWorker(
        consumer_cls(), conn, exchange=rabbit.exchange, max_attempts=3, retry_base_ms=50, verifier=verifier
    )


def consume(rabbit, consumer_cls, verifier, *bodies: bytes, idle: float = 1.0):
    """Publish raw bodies (as a publisher or an attacker would), consume until idle; (stats, dead letters)."""
    with Connection(rabbit.url) as conn:
        worker = worker_for(rabbit, consumer_cls, verifier, conn)
        worker.declare()
        exchange = Exchange(rabbit.exchange, type="topic", durable=True)
        producer = conn.Producer()
        for body in bodies:
            routing_key = orjson.loads(body)["type"]
            producer.publish(
                body, exchange=exchange, routing_key=routing_key, content_type="application/json"
            )
        stats = worker.run(once=True, idle_timeout=idle)
        dead = []
        while (
            message := Queue(f"{consumer_cls.name}.dlq", channel=conn.channel()).get(no_ack=True)
        ) is not None:
            dead.append(message)
    return stats, dead


def effects() -> int:
    return OutboxEvent.objects.filter(type="widget.recorded").count()


def captured(source: str = "payment_service") -> Envelope:
    return Envelope.new(PAID, {"payment_id": 42, "amount": "12.34", "version": 3}, source=source)


def genuine(envelope: Envelope | None = None) -> Envelope:
    """Signed the way the relay signs: this service's active key."""
    return EventSigner()(envelope or captured())


def test_a_critical_event_goes_from_the_outbox_through_the_relay_to_the_consumer_signed(
    rabbit, payments, verifier, settings, capsys
):
    settings.BROKER_URL, settings.BROKER_TRANSPORT_OPTIONS = rabbit.url, {}
    settings.EVENTS_EXCHANGE = rabbit.exchange
    with Connection(rabbit.url) as conn:  # the queue exists before the relay publishes
        worker_for(rabbit, payments, verifier, conn).declare()
    with transaction.atomic():
        row = outbox_write(PAID, {"payment_id": 7, "amount": "10.00", "version": 1})
        outbox_write("widget.created", {"id": 1})
    call_command("relay_outbox", "--once")  # the service's relay command, its signer included
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
    with Connection(rabbit.url) as conn:  # a look at what was published, left in the queue
        queue = Queue(payments.name, channel=conn.channel())
        messages = [queue.get(no_ack=False) for _ in range(2)]
        bodies = [message.body for message in messages]
        for message in messages:
            message.requeue()
    docs = {doc["type"]: doc for doc in map(orjson.loads, bodies)}
    active = EventSigningKey.objects.get(state="active")
    assert docs[PAID]["kid"] == active.kid
    assert docs[PAID]["signature"]
    assert docs[PAID]["digest"].startswith("sha-256:")
    assert docs[PAID]["source"] == "payment_service"
    assert "signature" not in docs["widget.created"]
    assert docs["widget.created"]["digest"]

    # the service's consume command, its verifier built from the settings
    settings.EVENT_SIGNATURES = "enforce"
    settings.EVENT_KEYS_URLS = {"payment_service": verifier.urls["payment_service"]}
    settings.CONSUMERS = ["tests.chassis.chassis_service.consumers.WidgetConsumer"]
    settings.CONSUMER_MAX_ATTEMPTS, settings.CONSUMER_RETRY_BASE_MS = 3, 50
    with Connection(rabbit.url) as conn:  # and an unsigned one beside them, which the command refuses
        conn.Producer().publish(captured().to_json(), exchange="", routing_key=payments.name)
    capsys.readouterr()
    call_command("consume", payments.name, "--max-messages", "3")
    assert "2 processed, 0 duplicates, 0 retried, 1 dead-lettered" in capsys.readouterr().out
    assert ProcessedEvent.objects.filter(consumer=payments.name, event_id=str(row.event_id)).exists()
    assert effects() == 2


def test_a_replayed_signed_event_is_refused_by_the_idempotency_store(rabbit, payments, verifier):
    body = genuine().to_json()
    stats, dead = consume(rabbit, payments, verifier, body, body, body)
    assert (stats.processed, stats.duplicate, stats.dead_lettered, dead) == (1, 2, 0, [])
    assert effects() == 1


def test_a_forged_signature_goes_to_the_dead_letter_queue_and_is_never_processed(rabbit, payments, verifier):
    real_kid = EventSigner().material().kid
    forger = crypto.generate_private_key()
    forged = event_trust.sign(captured(), kid=real_kid, key=forger)  # the real kid, another key
    own_kid = crypto.thumbprint(crypto.public_jwk(forger.public_key()))
    self_signed = event_trust.sign(
        captured(), kid=own_kid, key=forger
    )  # a key payment_service never published
    stats, dead = consume(rabbit, payments, verifier, forged.to_json(), self_signed.to_json())
    assert (stats.dead_lettered, stats.processed) == (2, 0)
    errors = sorted(message.headers["x-error"] for message in dead)
    assert errors[0].startswith("untrusted event: bad_signature:")
    assert errors[1].startswith("untrusted event: unknown_key:")
    assert dead[0].headers["x-attempts"] == 1  # at once, no retries
    assert effects() == 0
    assert not ProcessedEvent.objects.exists()


def test_an_unsigned_critical_event_is_dead_lettered(rabbit, payments, verifier):
    stats, [dead] = consume(rabbit, payments, verifier, captured().to_json())
    assert (stats.dead_lettered, stats.processed) == (1, 0)
    assert dead.headers["x-error"].startswith("untrusted event: unsigned:")
    assert effects() == 0


def test_tampered_data_is_dead_lettered_with_or_without_a_recomputed_digest(rabbit, payments, verifier):
    doc = orjson.loads(genuine().to_json())
    doc["data"]["amount"] = "9999.00"
    naive = orjson.dumps(doc)  # the digest no longer matches
    doc["digest"] = content_digest(canonical_json({k: doc[k] for k in CONTENT_FIELDS}))
    careful = orjson.dumps(doc)  # the digest recomputed: the signature still covers the old content
    stats, dead = consume(rabbit, payments, verifier, naive, careful)
    assert (stats.dead_lettered, stats.processed) == (2, 0)
    by_body = {message.body: message.headers["x-error"] for message in dead}
    assert by_body[naive].startswith("digest mismatch:")
    assert by_body[careful].startswith("untrusted event: bad_signature:")
    assert effects() == 0


def test_a_tampered_non_critical_event_is_dead_lettered_too(rabbit, payments, verifier):
    doc = orjson.loads(Envelope.new("widget.created", {"id": 5}, source="chassis_service").to_json())
    doc["data"]["id"] = 6
    stats, [dead] = consume(rabbit, payments, verifier, orjson.dumps(doc))
    assert (stats.dead_lettered, stats.processed) == (1, 0)
    assert dead.headers["x-error"].startswith("digest mismatch:")


def test_an_event_signed_by_a_service_the_table_does_not_allow_for_its_type_is_refused(
    rabbit, payments, verifier, settings
):
    settings.EVENT_SOURCE = "chassis_service"  # a genuine key and signature, but not the payment service
    wrong = genuine(captured(source="chassis_service"))
    assert wrong.signature is not None
    stats, [dead] = consume(rabbit, payments, verifier, wrong.to_json())
    assert (stats.dead_lettered, stats.processed) == (1, 0)
    assert dead.headers["x-error"].startswith("untrusted event: wrong_publisher:")
    assert "only payment_service may publish payment.captured" in dead.headers["x-error"]


def test_a_rotated_key_keeps_verifying_during_the_overlap_and_not_after(
    rabbit, payments, verifier, live_server
):
    stats, _ = consume(rabbit, payments, verifier, genuine().to_json())  # the verifier now holds the old set
    assert stats.processed == 1
    old = EventSigner().material()  # what a relay that has not re-read the active key still signs with
    call_command("events", "keys", "rotate", "--overlap", "3600", "--json")
    after = EventSigner()(captured())
    assert after.kid != old.kid
    in_overlap = event_trust.sign(captured(), kid=old.kid, key=old.private_key)
    stats, dead = consume(rabbit, payments, verifier, after.to_json(), in_overlap.to_json())
    assert (stats.processed, stats.dead_lettered, dead) == (2, 0, [])  # the new kid was fetched on sight

    EventSigningKey.objects.filter(kid=old.kid).update(verify_until=timezone.now())  # the overlap is over
    fresh = EventVerifier("enforce", {"payment_service": live_server.url + EVENT_KEYS_PATH})
    late = event_trust.sign(captured(), kid=old.kid, key=old.private_key)
    stats, [dead] = consume(rabbit, payments, fresh, late.to_json())
    assert (stats.dead_lettered, stats.processed) == (1, 0)
    assert dead.headers["x-error"].startswith("untrusted event: unknown_key:")


def test_the_event_keys_endpoint_lists_the_verifying_public_keys_only(client, capsys):
    first = event_keyring().active().kid
    call_command("events", "keys", "rotate", "--overlap", "60", "--json")
    rotation = json.loads(capsys.readouterr().out)
    assert rotation["retiring_kid"] == first
    call_command("events", "keys", "list", "--json")
    listed = {row["kid"]: row["state"] for row in json.loads(capsys.readouterr().out)}
    assert listed == {rotation["new_kid"]: "active", first: "retiring"}
    answer = client.get(EVENT_KEYS_PATH)
    assert answer.status_code == 200
    assert "max-age=" in answer["Cache-Control"]
    keys = answer.json()["keys"]
    assert [key["kid"] for key in keys][1:] == [first]
    assert len(keys) == 2
    assert all(set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"} for key in keys)  # no "d"
    assert client.post(EVENT_KEYS_PATH).status_code == 405
    sealed = EventSigningKey.objects.get(kid=first).sealed_private_key
    assert sealed.startswith(crypto.SEALED_PREFIX)
    assert "PRIVATE KEY" not in sealed


def test_a_publisher_whose_keys_cannot_be_fetched_is_retried_not_dead_lettered_at_once(rabbit, payments):
    unreachable = EventVerifier(
        "enforce", {"payment_service": "http://127.0.0.1:9/.well-known/event-keys.json"}
    )
    stats, [dead] = consume(rabbit, payments, unreachable, genuine().to_json(), idle=2.0)
    assert (stats.retried, stats.dead_lettered, stats.processed) == (2, 1, 0)
    assert "KeysUnavailable" in dead.headers["x-error"]


def test_with_signatures_off_only_the_digest_is_checked(rabbit, payments):
    stats, dead = consume(rabbit, payments, EventVerifier("off", {}), captured().to_json())
    assert (stats.processed, dead) == (1, [])


def undigested(envelope: Envelope) -> bytes:
    """The envelope as a publisher from before signed events sent it: no digest (nor signature)."""
    doc = envelope.to_dict()
    del doc["digest"]
    return orjson.dumps(doc)


def without_digest_count(source: str) -> float:
    return REGISTRY.get_sample_value("events_without_digest_total", {"source": source}) or 0.0


def test_during_a_rolling_deploy_events_without_a_digest_are_accepted_counted_and_logged_once(
    rabbit, payments, caplog, monkeypatch
):
    monkeypatch.setattr(event_keys, "_undigested_sources", set())

    def widget() -> Envelope:  # from a publisher not yet upgraded
        return Envelope.new("widget.created", {"id": 1}, source="catalog_old")

    tampered = widget().to_dict()
    tampered["data"]["id"] = 2  # a digest present but wrong: refused whatever the mode
    before = without_digest_count("catalog_old")
    with caplog.at_level(logging.WARNING, logger="chassis.event_keys"):
        stats, [dead] = consume(
            rabbit,
            payments,
            EventVerifier("off", {}),
            undigested(widget()),
            undigested(widget()),
            orjson.dumps(tampered),
        )
    assert (stats.processed, stats.dead_lettered, effects()) == (2, 1, 2)
    assert dead.headers["x-error"].startswith("digest mismatch:")
    assert without_digest_count("catalog_old") - before == 2
    logged = [r for r in caplog.records if "without a digest" in r.getMessage()]
    assert [r.getMessage().split()[2] for r in logged] == ["catalog_old"]


def test_with_signatures_enforced_an_event_without_a_digest_is_dead_lettered(rabbit, payments, verifier):
    plain = Envelope.new("widget.created", {"id": 1}, source="chassis_service")
    stats, dead = consume(rabbit, payments, verifier, undigested(plain), undigested(genuine()))
    assert (stats.processed, stats.dead_lettered, effects()) == (0, 2, 0)
    assert [letter.headers["x-error"].split(":")[:2] for letter in dead] == [
        ["untrusted event", " no_digest"]
    ] * 2
