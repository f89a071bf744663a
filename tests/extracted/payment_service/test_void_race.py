"""A void that overtakes its authorization (the saga gave up waiting for authorize, then compensated while
the charge was still on its way): whichever of the two takes the advisory lock first, no charge is left
authorized. Real PostgreSQL, two threads, each on its own connection."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from extracted.payment_service.models import AuthorizationVoid, Payment
from extracted.payment_service.services.charges import payment_advance, payment_create
from extracted.payment_service.services.compensation import payment_void_by_key, void_key

from .conftest import charge_request

pytestmark = pytest.mark.django_db(transaction=True)


def _advisory_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND wait_event = 'advisory' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def _until(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def _in_thread(results: dict, name: str, call) -> threading.Thread:
    def run():
        try:
            results[name] = call()
        except Exception as exc:  # reported by the test's assertions
            results[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def test_a_void_that_overtakes_its_charge_leaves_it_voided_and_unsent(providers):
    number, key = "TS-5001", "TS-5001:authorize"
    wrapper = connections["default"]
    holder = wrapper.get_new_connection(wrapper.get_connection_params())  # plays the charge in flight
    holder.autocommit = True
    lock = f"payment-void:{void_key(number, key)}"
    results: dict = {}
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock])
        void = _in_thread(
            results, "void", lambda: payment_void_by_key(order_number=number, authorize_key=key, reason="x")
        )
        _until(lambda: _advisory_waiters() == 1, "the void to wait for the lock")
        charge = _in_thread(
            results,
            "charge",
            lambda: payment_create(charge_request(order_number=number, idempotency_key=key, capture=False)),
        )
        _until(lambda: _advisory_waiters() == 2, "the charge to wait behind the void")
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock])
        void.join(10)
        charge.join(10)
    finally:
        holder.close()
    assert results["void"] == []  # the void went first: nothing to cancel yet, a tombstone instead
    payment, created = results["charge"]
    assert created
    assert payment.status == Payment.Status.VOIDED
    assert payment.failure_code == "voided_before_authorize"
    assert AuthorizationVoid.objects.filter(key=void_key(number, key)).exists()
    assert payment_advance(payment.pk) == Payment.Status.VOIDED  # a redelivered task authorizes nothing
    assert providers.charges("cardinal") == []


def test_a_charge_that_commits_first_is_found_and_cancelled_by_the_void(providers, eager_tasks):
    number, key = "TS-5002", "TS-5002:authorize"
    payment, _ = payment_create(charge_request(order_number=number, idempotency_key=key, capture=False))
    assert payment_advance(payment.pk) == Payment.Status.AUTHORIZED
    cancelled = payment_void_by_key(order_number=number, authorize_key=key, reason="x")
    assert [p.pk for p in cancelled] == [payment.pk]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.VOIDED
    assert not AuthorizationVoid.objects.exists()
    assert [c["status"] for c in providers.charges("cardinal")] == ["canceled"]
