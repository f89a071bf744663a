import threading

import pytest
from django.db import connections, transaction
from kombu import Connection, Queue

from chassis.broker import Publisher, events_exchange
from chassis.outbox.models import OutboxEvent
from chassis.outbox.relay import OutboxRelay
from chassis.outbox.source import ServiceOutboxSource
from chassis.outbox.writer import OutboxOutsideTransaction, outbox_write
from contracts.events import Envelope
from legacy_monolith.demo.processes import free_port

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def events_queue(rabbit):
    """A queue bound to every event on this test's exchange; yields a function draining it."""
    conn = Connection(rabbit.url)
    name = f"{rabbit.prefix}.all"
    rabbit.queues.append(name)
    queue = Queue(name, exchange=events_exchange(rabbit.exchange), routing_key="#")
    queue(conn.channel()).declare()

    def drain() -> list[Envelope]:
        out = []
        while (message := queue(conn.channel()).get(no_ack=True)) is not None:
            out.append(Envelope.from_json(message.body))
        return out

    yield drain
    conn.release()


def relay_to(url: str, rabbit, **kwargs) -> OutboxRelay:
    publisher = Publisher(url, exchange=rabbit.exchange, attempts=2, backoff_max=0.05)
    return OutboxRelay(ServiceOutboxSource(), publisher, sleep=lambda seconds: None, **kwargs)


@pytest.mark.django_db(transaction=True)
def test_outbox_write_refuses_to_run_outside_a_transaction():
    with pytest.raises(OutboxOutsideTransaction, match=r"inside transaction\.atomic"):
        outbox_write("stock.adjusted", {"product_id": 1})
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_outbox_row_commits_and_rolls_back_with_the_business_change():
    with transaction.atomic():
        kept = outbox_write("stock.adjusted", {"product_id": 1, "delta": -2}, trace_id=TRACE)

    def failing_change():
        with transaction.atomic():
            outbox_write("stock.adjusted", {"product_id": 2, "delta": 5})
            raise RuntimeError("the business change failed")

    with pytest.raises(RuntimeError):
        failing_change()
    [row] = OutboxEvent.objects.all()
    assert (row.event_id, row.type, row.trace_id, row.sent_at) == (
        kept.event_id,
        "stock.adjusted",
        TRACE,
        None,
    )


@pytest.mark.django_db(transaction=True)
def test_the_relay_publishes_pending_rows_in_order_and_marks_them_sent(rabbit, events_queue):
    with transaction.atomic():
        written = [outbox_write("catalog.product.upserted", {"id": i}, trace_id=TRACE) for i in range(5)]
    stats = relay_to(rabbit.url, rabbit, batch_size=2).run(until_empty=True)
    received = events_queue()
    assert [e.id for e in received] == [str(row.event_id) for row in written]
    assert {(e.source, e.trace_id) for e in received} == {("chassis_service", TRACE)}
    assert (stats.sent, stats.batches) == (5, 4)  # 2 + 2 + 1, then one empty claim
    assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_while_the_broker_is_down_rows_stay_pending_and_go_out_once_it_is_back(rabbit, events_queue):
    with transaction.atomic():
        rows = [outbox_write("order.placed", {"order_id": i, "lines": []}) for i in range(3)]
    down = relay_to(f"amqp://guest:guest@127.0.0.1:{free_port()}//", rabbit)
    stats = down.run(max_batches=3)
    assert (stats.sent, stats.failures) == (0, 3)
    first = OutboxEvent.objects.get(pk=rows[0].pk)
    assert (first.sent_at, first.attempts) == (None, 3)
    assert "not confirmed after 2 attempts" in first.last_error
    assert OutboxEvent.objects.filter(sent_at__isnull=True).count() == 3

    assert relay_to(rabbit.url, rabbit).run(until_empty=True).sent == 3
    assert [e.id for e in events_queue()] == [str(row.event_id) for row in rows]


@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_skip_rows_another_relay_has_claimed():
    with transaction.atomic():
        for i in range(4):
            outbox_write("stock.adjusted", {"product_id": i})
    source = ServiceOutboxSource()
    claimed_first = threading.Event()
    release = threading.Event()
    seen: dict[str, list[int]] = {}

    def hold_a_claim():
        try:
            with source.atomic():
                seen["holder"] = [p.id for p in source.claim(2)]
                claimed_first.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_a_claim)
    holder.start()
    assert claimed_first.wait(10)
    with source.atomic():
        seen["other"] = [p.id for p in source.claim(10)]
    release.set()
    holder.join()
    assert len(seen["holder"]) == 2
    assert len(seen["other"]) == 2
    assert not set(seen["holder"]) & set(seen["other"])


@pytest.mark.django_db(transaction=True)
def test_the_relay_outbox_command_empties_the_outbox_once(rabbit, events_queue, settings, capsys):
    from django.core.management import call_command

    settings.BROKER_URL = rabbit.url
    settings.BROKER_TRANSPORT_OPTIONS = {}
    settings.EVENTS_EXCHANGE = rabbit.exchange
    with transaction.atomic():
        rows = [outbox_write("stock.released", {"reference": f"r{i}"}) for i in range(3)]
    call_command("relay_outbox", "--once", "--batch-size", "2")
    assert "3 sent in 3 batches, 0 failures" in capsys.readouterr().out
    assert [e.id for e in events_queue()] == [str(row.event_id) for row in rows]


@pytest.mark.django_db(transaction=True)
def test_a_committed_outbox_row_notifies_the_listener_and_a_rolled_back_one_does_not():
    from chassis.pg_listen import PgListener

    listener = PgListener(["chassis_outbox"])
    try:
        assert listener.connect()
        assert listener.wait(0) == []

        def failing_change():
            with transaction.atomic():
                outbox_write("stock.adjusted", {"product_id": 2})
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            failing_change()
        assert listener.wait(0.2) == []  # nothing was committed: nothing to wake for
        with transaction.atomic():
            outbox_write("stock.adjusted", {"product_id": 1})
            outbox_write("stock.adjusted", {"product_id": 3})
        assert listener.wait(10) == [("chassis_outbox", "")]  # once per statement, folded per transaction
    finally:
        listener.close()


@pytest.mark.django_db(transaction=True)
def test_a_listening_relay_publishes_a_row_when_it_commits(rabbit, events_queue):
    """The relay waits on the outbox's NOTIFY (its fallback claim is a minute away), so the row it
    publishes is the one whose commit woke it."""
    from chassis.pg_listen import PgListener

    wakeup = PgListener(["chassis_outbox"])
    publisher = Publisher(rabbit.url, exchange=rabbit.exchange, attempts=2, backoff_max=0.05)
    relay = OutboxRelay(ServiceOutboxSource(), publisher, wakeup=wakeup, wakeup_seconds=60, idle_seconds=60)

    def run():
        try:
            relay.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while relay.stats.batches == 0:  # the first (empty) claim happened: the relay now waits
            threading.Event().wait(0.02)
        with transaction.atomic():
            outbox_write("stock.adjusted", {"product_id": 9}, trace_id=TRACE)
        published: list[Envelope] = []
        for _ in range(500):
            published += events_queue()
            if published:
                break
            threading.Event().wait(0.02)
        assert [e.data for e in published] == [{"product_id": 9}]
        assert not OutboxEvent.objects.filter(sent_at__isnull=True).exists()
    finally:
        relay.stop()  # interrupts the relay's wait
        thread.join(10)
        wakeup.close()
        publisher.close()
    assert not thread.is_alive()
